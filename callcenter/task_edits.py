"""Who may create, reassign, reschedule and close a task, and the checks on what they type.

Operators plan their own work: they may assign a task only to themselves (and take
one nobody has). Supervisors, managers and admins assign to anyone active.
Errors name the field and say why in English; the web layer translates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.access import may_see_contact
from callcenter.form_errors import FormInvalid
from callcenter.models import Contact, Role, Task, TaskKind, TaskStatus, User
from callcenter.reminders import reschedule
from callcenter.tasks import MAX_TITLE, NewTask, add_task

LEADING_ROLES = (Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value)
MAX_NOTES = 5000
CLOSING = (TaskStatus.DONE.value, TaskStatus.CANCELLED.value)

# the messages a person may see beside a field (translated by the web layer)
NEEDS_TITLE = "Write what is to be done."
TITLE_TOO_LONG = "At most 300 characters."
NOTES_TOO_LONG = "At most 5000 characters."
CONTROL_CHARACTER = "Remove the invisible control characters."
UNKNOWN_KIND = "Choose a kind of task."
CALLBACK_NEEDS_TIME = "A callback needs a due time."
ONLY_YOURSELF = "You may assign tasks only to yourself."
NO_SUCH_ASSIGNEE = "No such active user."
NO_SUCH_CONTACT = "You cannot see this client."
UNKNOWN_STATUS = "Done or cancelled."
ALREADY_CLOSED = "The task is already closed."


class TaskInputError(FormInvalid):
    """The task cannot be created or changed as asked; nothing was stored."""


@dataclass(frozen=True)
class TaskDraft:
    kind: str
    title: str
    assignee_id: int | None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    contact_id: int | None = None
    notes: str | None = None


@dataclass(frozen=True)
class TaskChange:
    """Only the fields named in ``given`` change (``None`` there clears a time or notes)."""

    values: dict[str, Any] = field(default_factory=dict)

    @property
    def given(self) -> set[str]:
        return set(self.values)


def is_leader(user: User) -> bool:
    return user.role in LEADING_ROLES


def may_change(user: User, task: Task) -> bool:
    """The assignee, the author, anyone for an unassigned task, and the team's leaders."""
    return (
        is_leader(user)
        or task.assignee_id in (None, user.id)
        or (task.created_by_id == user.id and task.created_by_id is not None)
    )


async def create_task(session: AsyncSession, actor: User, draft: TaskDraft) -> Task:
    """Checked, flushed and on the client's timeline; the caller commits and announces."""
    errors = _text_errors(draft.title, draft.notes)
    if draft.kind not in {kind.value for kind in TaskKind}:
        errors["kind"] = UNKNOWN_KIND
    elif draft.kind == TaskKind.CALLBACK and draft.due_at is None:
        errors["due_at"] = CALLBACK_NEEDS_TIME
    errors |= await _assignee_errors(session, actor, draft.assignee_id)
    if draft.contact_id is not None and not await _contact_visible(
        session, actor, draft.contact_id
    ):
        errors["contact_id"] = NO_SUCH_CONTACT
    if errors:
        raise TaskInputError(errors)
    return await add_task(
        session,
        NewTask(
            kind=TaskKind(draft.kind),
            title=draft.title.strip(),
            assignee_id=draft.assignee_id,
            contact_id=draft.contact_id,
            due_at=draft.due_at,
            remind_at=draft.remind_at,
            notes=(draft.notes or "").strip() or None,
            created_by_id=actor.id,
        ),
    )


async def change_task(
    session: AsyncSession, actor: User, task: Task, change: TaskChange, now: datetime
) -> bool:
    """Apply ``change`` to ``task`` (the caller checked ``may_change``); True when the
    assignee changed, so the new one should be told."""
    values = change.values
    errors: dict[str, str] = {}
    title = values.get("title", task.title)
    notes = values.get("notes", task.notes)
    errors |= _text_errors(title, notes)
    status = values.get("status", task.status)
    if "status" in values:
        if status not in CLOSING:
            errors["status"] = UNKNOWN_STATUS
        elif status != task.status and task.status != TaskStatus.OPEN:
            errors["status"] = ALREADY_CLOSED
    due_at = values.get("due_at", task.due_at)
    remind_at = values.get("remind_at", due_at if "due_at" in values else task.remind_at)
    if task.kind == TaskKind.CALLBACK and due_at is None:
        errors["due_at"] = CALLBACK_NEEDS_TIME
    assignee_id = values.get("assignee_id", task.assignee_id)
    if assignee_id != task.assignee_id:
        errors |= await _assignee_errors(session, actor, assignee_id)
    if errors:
        raise TaskInputError(errors)
    task.title = title.strip()
    task.notes = (notes or "").strip() or None
    reschedule(task, due_at, remind_at)
    reassigned = assignee_id != task.assignee_id
    if reassigned:
        task.assignee_id = assignee_id
        task.reminded_at = None  # the new assignee has not been reminded
    if status != task.status:
        task.status = status
        task.done_at = now if status == TaskStatus.DONE else None
    await session.flush()
    return reassigned and assignee_id is not None


def _text_errors(title: str, notes: str | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = NEEDS_TITLE
    elif len(title.strip()) > MAX_TITLE:
        errors["title"] = TITLE_TOO_LONG
    if notes is not None and len(notes) > MAX_NOTES:
        errors["notes"] = NOTES_TOO_LONG
    # PostgreSQL text cannot hold NUL
    if "\x00" in title:
        errors["title"] = CONTROL_CHARACTER
    if notes is not None and "\x00" in notes:
        errors["notes"] = CONTROL_CHARACTER
    return errors


async def _assignee_errors(
    session: AsyncSession, actor: User, assignee_id: int | None
) -> dict[str, str]:
    if not is_leader(actor) and assignee_id != actor.id:
        # an operator may give back nothing they cannot take again: only "me"
        return {"assignee_id": ONLY_YOURSELF}
    if assignee_id is None:
        return {}
    active = await session.scalar(
        select(User.id).where(User.id == assignee_id, User.is_active.is_(True))
    )
    return {} if active is not None else {"assignee_id": NO_SUCH_ASSIGNEE}


async def _contact_visible(session: AsyncSession, actor: User, contact_id: int) -> bool:
    contact = await session.get(Contact, contact_id)
    return contact is not None and await may_see_contact(session, actor, contact)
