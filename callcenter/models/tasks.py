"""Tasks, callbacks and reminders."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, CreatedAtMixin, IntPK, UpdatedAtMixin, one_of


class TaskKind(enum.StrEnum):
    CALLBACK = "callback"
    MEETING = "meeting"
    FOLLOW_UP = "follow_up"
    TODO = "todo"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(CreatedAtMixin, UpdatedAtMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        one_of("kind", TaskKind),
        one_of("status", TaskStatus),
        CheckConstraint("kind <> 'callback' OR due_at IS NOT NULL", name="callback_has_due_at"),
        CheckConstraint("status <> 'done' OR done_at IS NOT NULL", name="done_has_done_at"),
        # "my open tasks, soonest first"
        Index("ix_tasks_assignee_id_status_due_at", "assignee_id", "status", "due_at"),
    )

    id: Mapped[IntPK]
    kind: Mapped[str] = mapped_column(server_default=TaskKind.TODO.value)
    title: Mapped[str]
    notes: Mapped[str | None]
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), comment="e.g. the abandoned call to return"
    )
    # NULL: not yet taken by anyone (e.g. a web-form lead waiting for a manager)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
    done_at: Mapped[datetime | None]
    # set when the reminder went out, so a restart does not remind twice
    reminded_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(server_default=TaskStatus.OPEN.value)
