"""Creating tasks and telling their assignee, live.

Every task for a client also goes on the client's timeline. The assignee's browsers
get a ``task.assigned`` message once the task is committed (never for a task that
was rolled back); ``callcenter.reminders`` sends ``task.reminder`` at its time.
Both carry ``task_payload``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.iso_time import iso
from callcenter.lookup import contact_name
from callcenter.models import Contact, Interaction, InteractionKind, Task, TaskKind
from callcenter.notify import Notifier

TASK_ASSIGNED = "task.assigned"
TASK_REMINDER = "task.reminder"
MAX_TITLE = 300


@dataclass(frozen=True)
class NewTask:
    kind: TaskKind
    title: str
    assignee_id: int | None
    contact_id: int | None = None
    deal_id: int | None = None
    call_id: int | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    notes: str | None = None
    created_by_id: int | None = None
    # the timeline entry this task follows from (e.g. the call that asked for it)
    previous_interaction_id: int | None = None


async def add_task(session: AsyncSession, new: NewTask) -> Task:
    """The task, flushed, and its timeline entry; the caller commits, then announces."""
    task = Task(
        kind=new.kind.value,
        title=new.title[:MAX_TITLE],
        assignee_id=new.assignee_id,
        contact_id=new.contact_id,
        deal_id=new.deal_id,
        call_id=new.call_id,
        due_at=new.due_at,
        remind_at=new.remind_at if new.remind_at is not None else new.due_at,
        notes=new.notes,
        created_by_id=new.created_by_id,
    )
    session.add(task)
    await session.flush()
    if new.contact_id is not None:
        session.add(
            Interaction(
                contact_id=new.contact_id,
                kind=InteractionKind.TASK.value,
                author_id=new.created_by_id,
                task_id=task.id,
                deal_id=new.deal_id,
                call_id=new.call_id,
                summary=task.title,
                payload={"kind": task.kind, "due_at": iso(task.due_at)},
                previous_interaction_id=new.previous_interaction_id,
            )
        )
        await session.flush()
    return task


async def task_payload(session: AsyncSession, task: Task) -> dict[str, Any]:
    """What a browser needs to show the task: ids, words, times as ISO text."""
    name = None
    if task.contact_id is not None:
        contact = await session.get(Contact, task.contact_id)
        name = contact_name(contact) if contact else None
    return {
        "id": task.id,
        "kind": task.kind,
        "title": task.title,
        "notes": task.notes,
        "due_at": iso(task.due_at),
        "contact_id": task.contact_id,
        "contact_name": name,
        "assignee_id": task.assignee_id,
    }


def announce(notifier: Notifier, payload: dict[str, Any]) -> None:
    """Tell the assignee (an unassigned task is shown on page loads, not pushed)."""
    if payload["assignee_id"] is not None:
        notifier.publish([payload["assignee_id"]], TASK_ASSIGNED, payload)
