"""Who read, exported or listened to personal data, and when (152-FZ)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, func
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import EMPTY_OBJECT, Base, IntPK, Json


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(r"action ~ '^[a-z_]+(\.[a-z_]+)*$'", name="action"),
        Index("ix_audit_log_entity_type_entity_id", "entity_type", "entity_id"),
        Index("ix_audit_log_actor_id_occurred_at", "actor_id", "occurred_at"),
    )

    id: Mapped[IntPK]
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    # no ON DELETE: a user with audit entries cannot be deleted, only deactivated
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(comment="e.g. login, contact.read, export, recording.play")
    entity_type: Mapped[str | None]
    entity_id: Mapped[str | None] = mapped_column(comment="text, so any key fits")
    ip: Mapped[str | None] = mapped_column(INET)
    details: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)
