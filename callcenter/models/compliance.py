"""Do-not-call list and advertising consents (38-FZ), checked before every outbound call."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, func
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK, one_of
from callcenter.models.clients import E164_CHECK


class ConsentKind(enum.StrEnum):
    ADVERTISING = "advertising"


class DoNotCall(Base):
    __tablename__ = "do_not_call"
    __table_args__ = (CheckConstraint(f"e164 ~ '{E164_CHECK}'", name="e164"),)

    id: Mapped[IntPK]
    e164: Mapped[str] = mapped_column(unique=True)
    reason: Mapped[str | None]
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source: Mapped[str | None] = mapped_column(comment="operator, disposition, import, api...")


class Consent(CreatedAtMixin, Base):
    """A consent given by a contact or by the owner of a number; revoked, never deleted."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("contact_id IS NOT NULL OR e164 IS NOT NULL", name="subject"),
        CheckConstraint(f"e164 ~ '{E164_CHECK}'", name="e164"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= given_at", name="revoked_after_given"),
        one_of("kind", ConsentKind),
    )

    id: Mapped[IntPK]
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(server_default=ConsentKind.ADVERTISING.value)
    given_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(comment="web form, call recording, paper...")
