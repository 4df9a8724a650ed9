"""Ad channels and the tracking numbers (DIDs) that tell which channel a caller came from."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK
from callcenter.models.clients import E164_CHECK


class AdChannel(CreatedAtMixin, Base):
    __tablename__ = "ad_channels"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True)
    utm_source: Mapped[str | None]
    utm_medium: Mapped[str | None]
    utm_campaign: Mapped[str | None]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class TrackingNumber(CreatedAtMixin, Base):
    __tablename__ = "tracking_numbers"
    __table_args__ = (CheckConstraint(f"did_e164 ~ '{E164_CHECK}'", name="did_e164"),)

    id: Mapped[IntPK]
    did_e164: Mapped[str] = mapped_column(unique=True)
    ad_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("ad_channels.id", ondelete="RESTRICT"), index=True
    )
    label: Mapped[str | None]
