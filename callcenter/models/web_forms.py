"""Websites whose forms send leads to ``POST /api/v1/leads``, each with its own token."""

from __future__ import annotations

from sqlalchemy import ForeignKey, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK


class WebFormSite(CreatedAtMixin, Base):
    __tablename__ = "web_form_sites"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(unique=True, comment="e.g. the site's domain")
    token_hash: Mapped[str] = mapped_column(unique=True, comment="SHA-256 of the site's token")
    # a lead without UTM tags is attributed to the site's own channel
    ad_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("ad_channels.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
