"""The contact timeline: every event with a client, optionally chained to the one before."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, func
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import EMPTY_OBJECT, Base, CreatedAtMixin, IntPK, Json, one_of


class InteractionKind(enum.StrEnum):
    CALL = "call"
    NOTE = "note"
    TASK = "task"
    DEAL_CHANGE = "deal_change"
    STATUS_CHANGE = "status_change"
    WEB_FORM = "web_form"
    EMAIL = "email"


class Interaction(CreatedAtMixin, Base):
    __tablename__ = "interactions"
    __table_args__ = (one_of("kind", InteractionKind),)

    id: Mapped[IntPK]
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str]
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    summary: Mapped[str | None]
    payload: Mapped[Json] = mapped_column(server_default=EMPTY_OBJECT)
    previous_interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL"), index=True
    )


# the client card reads a contact's newest events first
Index(
    "ix_interactions_contact_id_occurred_at",
    Interaction.contact_id,
    Interaction.occurred_at.desc(),
)
