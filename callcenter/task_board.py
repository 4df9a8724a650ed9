"""What is on someone's plate: an operator's day, and the load of the whole team.

A "day" is a calendar day in the reader's time zone: a Vladivostok operator's
Monday starts seven hours before Moscow's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.access import may_see_contact, visible_contacts
from callcenter.iso_time import iso
from callcenter.lookup import contact_name
from callcenter.models import Contact, Role, Task, TaskStatus, User

OPEN = TaskStatus.OPEN.value
DONE = TaskStatus.DONE.value
# whose load a supervisor watches: the people who work tasks
WORKING_ROLES = (Role.OPERATOR.value, Role.MANAGER.value)
UNASSIGNED_SHOWN = 50


@dataclass(frozen=True)
class TaskLine:
    id: int
    kind: str
    title: str
    status: str
    notes: str | None
    due_at: datetime | None
    remind_at: datetime | None
    done_at: datetime | None
    contact_id: int | None
    # None also when the reader may not see this client
    contact_name: str | None
    assignee_id: int | None
    overdue: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "notes": self.notes,
            "due_at": iso(self.due_at),
            "remind_at": iso(self.remind_at),
            "done_at": iso(self.done_at),
            "contact_id": self.contact_id,
            "contact_name": self.contact_name,
            "assignee_id": self.assignee_id,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class OperatorDay:
    day: date
    is_today: bool
    agenda: list[TaskLine]  # open tasks: overdue ones first, then by due time
    undated: list[TaskLine]  # open, no due time (shown on today only)
    done: list[TaskLine]  # done during the day
    unassigned: list[TaskLine]  # nobody's yet: anyone may take them (own day, today only)


@dataclass(frozen=True)
class OperatorLoad:
    user_id: int
    full_name: str
    role: str
    open: int
    overdue: int
    due_today: int
    done_today: int
    next_due: datetime | None


@dataclass(frozen=True)
class TeamLoad:
    people: list[OperatorLoad]
    unassigned_open: int


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight in ``zone`` (23 or 25 hours long on a clock change)."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def today_in(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


async def operator_day(
    session: AsyncSession,
    reader: User,
    user_id: int,
    day: date,
    zone: ZoneInfo,
    now: datetime,
) -> OperatorDay:
    """``user_id``'s day as ``reader`` sees it (one query)."""
    start, end = day_bounds(day, zone)
    is_today = today_in(zone, now) == day
    visible = await visible_contacts(session, reader)
    open_due = Task.due_at < end if is_today else and_(Task.due_at >= start, Task.due_at < end)
    in_day = [
        and_(Task.status == OPEN, open_due),
        and_(Task.status == DONE, Task.done_at >= start, Task.done_at < end),
    ]
    whose = [Task.assignee_id == user_id]
    # today also carries what is overdue from earlier days, what has no date, and (on
    # one's own page) what nobody has taken yet
    if is_today:
        in_day.append(and_(Task.status == OPEN, Task.due_at.is_(None)))
        if reader.id == user_id:
            whose.append(
                and_(
                    Task.assignee_id.is_(None),
                    Task.status == OPEN,
                    or_(Task.contact_id.is_(None), visible),
                )
            )
    rows = await session.execute(
        select(Task, Contact, visible.label("visible"))
        .outerjoin(Contact, Contact.id == Task.contact_id)
        .where(or_(*in_day), or_(*whose))
        .order_by(Task.due_at.nulls_last(), Task.id)
    )
    agenda: list[TaskLine] = []
    undated: list[TaskLine] = []
    done: list[TaskLine] = []
    unassigned: list[TaskLine] = []
    for task, contact, may_see in rows:
        line = _line(task, contact if may_see else None, now)
        if task.assignee_id is None:
            if len(unassigned) < UNASSIGNED_SHOWN:
                unassigned.append(line)
        elif task.status == DONE:
            done.append(line)
        elif task.due_at is None:
            undated.append(line)
        else:
            agenda.append(line)
    agenda.sort(key=lambda line: not line.overdue)  # stable: due order kept within each
    done.sort(key=lambda line: line.done_at or now)
    return OperatorDay(day, is_today, agenda, undated, done, unassigned)


async def task_list(
    session: AsyncSession,
    reader: User,
    now: datetime,
    *,
    assignee_id: int | None,
    status: str | None = OPEN,
    due_between: tuple[datetime, datetime] | None = None,
    limit: int = 500,
) -> list[TaskLine]:
    """One person's tasks (``assignee_id`` None: the unassigned ones), soonest first."""
    visible = await visible_contacts(session, reader)
    query = (
        select(Task, Contact, visible.label("visible"))
        .outerjoin(Contact, Contact.id == Task.contact_id)
        .order_by(Task.due_at.nulls_last(), Task.id)
        .limit(limit)
    )
    if assignee_id is None:
        query = query.where(Task.assignee_id.is_(None), or_(Task.contact_id.is_(None), visible))
    else:
        query = query.where(Task.assignee_id == assignee_id)
    if status is not None:
        query = query.where(Task.status == status)
    if due_between is not None:
        query = query.where(Task.due_at >= due_between[0], Task.due_at < due_between[1])
    rows = await session.execute(query)
    return [_line(task, contact if may_see else None, now) for task, contact, may_see in rows]


async def task_line(session: AsyncSession, reader: User, task: Task, now: datetime) -> TaskLine:
    contact = await session.get(Contact, task.contact_id) if task.contact_id else None
    if contact is not None and not await may_see_contact(session, reader, contact):
        contact = None
    return _line(task, contact, now)


async def team_load(session: AsyncSession, zone: ZoneInfo, now: datetime) -> TeamLoad:
    """Each active operator's and manager's tasks, counted in one query."""
    start, end = day_bounds(today_in(zone, now), zone)
    is_open = Task.status == OPEN
    count = func.count(Task.id)
    query = (
        select(
            User.id,
            User.full_name,
            User.role,
            count.filter(is_open),
            count.filter(is_open, Task.due_at < now),
            count.filter(is_open, Task.due_at >= start, Task.due_at < end),
            count.filter(Task.status == DONE, Task.done_at >= start, Task.done_at < end),
            func.min(Task.due_at).filter(is_open, Task.due_at >= now),
        )
        .outerjoin(
            Task,
            and_(Task.assignee_id == User.id, or_(is_open, Task.done_at >= start)),
        )
        .where(User.is_active.is_(True), User.role.in_(WORKING_ROLES))
        .group_by(User.id)
        .order_by(User.full_name, User.id)
    )
    people = [OperatorLoad(*row) for row in await session.execute(query)]
    unassigned = await session.scalar(
        select(func.count(Task.id)).where(is_open, Task.assignee_id.is_(None))
    )
    return TeamLoad(people, unassigned or 0)


def _line(task: Task, contact: Contact | None, now: datetime) -> TaskLine:
    return TaskLine(
        id=task.id,
        kind=task.kind,
        title=task.title,
        status=task.status,
        notes=task.notes,
        due_at=task.due_at,
        remind_at=task.remind_at,
        done_at=task.done_at,
        contact_id=task.contact_id if contact is not None else None,
        contact_name=contact_name(contact) if contact is not None else None,
        assignee_id=task.assignee_id,
        overdue=task.status == OPEN and task.due_at is not None and task.due_at < now,
    )
