"""The missed-call loop: every missed or abandoned call becomes a callback task, and the
task closes itself once the client is reached.

A task goes to the caller's personal manager; without one it stays unassigned and
every operator's console shows it. It is "reached" when a later call with the same
number is answered, in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.lookup import display_name
from callcenter.models import Call, Contact, Task, User

MISSED_RESULTS = ("abandoned", "missed")


async def after_call(session: AsyncSession, call_id: int) -> None:
    """Called once a call has ended (idempotent: may run again for the same call)."""
    call = await session.get(Call, call_id)
    if call is None or call.ended_at is None:
        return
    if call.direction == "inbound" and call.result in MISSED_RESULTS:
        await _open_callback(session, call)
    elif call.result == "answered" and call.caller_e164:
        await _close_callbacks(session, call.caller_e164, call, call.ended_at)


async def _open_callback(session: AsyncSession, call: Call) -> None:
    exists = await session.scalar(
        select(Task.id).where(Task.call_id == call.id, Task.kind == "callback")
    )
    if exists is not None:
        return
    manager_id = None
    if call.contact_id is not None:
        manager_id = await session.scalar(
            select(Contact.manager_id).where(Contact.id == call.contact_id)
        )
    number = call.caller_number or "—"
    session.add(
        Task(
            kind="callback",
            title=f"Перезвонить: {number}",
            contact_id=call.contact_id,
            call_id=call.id,
            assignee_id=manager_id,
            due_at=call.ended_at,
            remind_at=call.ended_at,
        )
    )


async def _close_callbacks(session: AsyncSession, e164: str, reached: Call, at: datetime) -> None:
    missed_calls = select(Call.id).where(
        Call.caller_e164 == e164, Call.id != reached.id, Call.started_at <= reached.started_at
    )
    await session.execute(
        update(Task)
        .where(Task.kind == "callback", Task.status == "open", Task.call_id.in_(missed_calls))
        .values(status="done", done_at=at, notes=f"Связались: звонок {reached.linkedid}")
    )


async def open_callbacks(
    session: AsyncSession, user_id: int, limit: int = 20
) -> list[dict[str, object]]:
    """Callbacks for this operator: their own and the unassigned ones, oldest first."""
    rows = await session.execute(
        select(Task.id, Task.title, Task.due_at, Call.caller_e164, Call.caller_number)
        .outerjoin(Call, Call.id == Task.call_id)
        .where(
            Task.kind == "callback",
            Task.status == "open",
            (Task.assignee_id == user_id) | Task.assignee_id.is_(None),
        )
        .order_by(Task.due_at)
        .limit(limit)
    )
    return [
        {"id": id_, "title": title, "due_at": due_at, "e164": e164, "number": number}
        for id_, title, due_at, e164, number in rows
    ]


@dataclass(frozen=True)
class Unreturned:
    """A missed call nobody has called back yet: a line of the list to work."""

    call_id: int
    started_at: datetime
    caller_number: str | None
    queue: str | None
    wait_seconds: int | None
    contact_id: int | None
    client: str | None
    task_id: int
    assignee: str | None  # None: any operator may take it


async def not_called_back(
    session: AsyncSession, start: datetime, end: datetime, limit: int = 1000
) -> list[Unreturned]:
    """The period's missed and abandoned inbound calls whose callback is still open,
    oldest first: the task closes itself when the client is reached, so what is left
    here has not been."""
    rows = await session.execute(
        select(
            Call.id,
            Call.started_at,
            Call.caller_number,
            Call.queue_name,
            Call.wait_seconds,
            Contact.id,
            Contact.display_name,
            Contact.last_name,
            Contact.first_name,
            Contact.middle_name,
            Task.id,
            User.full_name,
        )
        .join(Task, (Task.call_id == Call.id) & (Task.kind == "callback"))
        .outerjoin(Contact, Contact.id == Call.contact_id)
        .outerjoin(User, User.id == Task.assignee_id)
        .where(
            Task.status == "open",
            Call.direction == "inbound",
            Call.result.in_(MISSED_RESULTS),
            Call.started_at >= start,
            Call.started_at < end,
        )
        .order_by(Call.started_at, Call.id)
        .limit(limit)
    )
    return [
        Unreturned(
            *row[:6],
            client=display_name(*row[6:10]) if row[5] is not None else None,
            task_id=row[10],
            assignee=row[11],
        )
        for row in rows
    ]
