"""Task reminders: at a task's ``remind_at`` its assignee hears of it, exactly once.

One loop per process. It sends whatever is due (``reminded_at`` is set in the same
transaction, rows taken with ``FOR UPDATE SKIP LOCKED``, so two processes never
send the same reminder), then sleeps until the next ``remind_at`` - at most
``MAX_SLEEP``, so tasks written by code that does not wake it are late by no more
than that - or until ``wake`` says a task came in that is due sooner. Reminders
that fell due while the process was down go out at start, flagged overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Task, TaskStatus
from callcenter.notify import Notifier
from callcenter.tasks import TASK_REMINDER, task_payload

log = logging.getLogger(__name__)

MAX_SLEEP = 30.0
BATCH = 200
# the loop wakes a moment after remind_at; a reminder sent at the due time is not late
OVERDUE_GRACE = timedelta(minutes=1)
RETRY_AFTER_ERROR = 5.0
# rows another process is sending right now still count as "next": do not spin on them
MIN_SLEEP = 0.05

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_overdue(task: Task, now: datetime) -> bool:
    return task.due_at is not None and task.due_at < now - OVERDUE_GRACE


def _due_for_reminder(now: datetime) -> Any:
    return (
        (Task.status == TaskStatus.OPEN.value)
        & Task.assignee_id.is_not(None)
        & Task.reminded_at.is_(None)
        & (Task.remind_at <= now)
    )


async def send_due_reminders(
    session: AsyncSession, notifier: Notifier, now: datetime, limit: int = BATCH
) -> int:
    """Send the reminders due by ``now`` (up to ``limit``); commits; how many went out."""
    tasks = list(
        await session.scalars(
            select(Task)
            .where(_due_for_reminder(now))
            .order_by(Task.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    messages = []
    for task in tasks:
        task.reminded_at = now
        payload = await task_payload(session, task)
        payload["overdue"] = is_overdue(task, now)
        messages.append((task.assignee_id, payload))
    await session.commit()
    # only what is committed is sent: a rolled-back batch is sent again next time
    for assignee_id, payload in messages:
        assert assignee_id is not None
        notifier.publish([assignee_id], TASK_REMINDER, payload)
    return len(messages)


async def next_reminder_at(session: AsyncSession) -> datetime | None:
    """The earliest reminder still to send (open, assigned, not yet reminded)."""
    return await session.scalar(
        select(func.min(Task.remind_at)).where(
            Task.status == TaskStatus.OPEN.value,
            Task.assignee_id.is_not(None),
            Task.reminded_at.is_(None),
        )
    )


def reschedule(task: Task, due_at: datetime | None, remind_at: datetime | None) -> None:
    """A new due or reminder time: the reminder goes out again at the new time."""
    if (due_at, remind_at) != (task.due_at, task.remind_at):
        task.reminded_at = None
    task.due_at = due_at
    task.remind_at = remind_at


class ReminderWake(Protocol):
    def wake(self, remind_at: datetime | None = None) -> None:
        """A task was added or rescheduled; ``None`` = look again whatever the time."""


class ReminderLoop:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        *,
        max_sleep: float = MAX_SLEEP,
        clock: Clock = _utc_now,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._max_sleep = max_sleep
        self._clock = clock
        self._wake = asyncio.Event()
        self._sleeping_until: datetime | None = None

    def wake(self, remind_at: datetime | None = None) -> None:
        """A task was added or rescheduled; ``None`` = look again whatever the time."""
        until = self._sleeping_until
        if remind_at is None or until is None or remind_at < until:
            self._wake.set()

    async def run(self) -> None:
        """Send reminders until cancelled; a database failure is logged and retried."""
        while True:
            # cleared before reading: a wake during the reading makes the sleep return at once
            self._wake.clear()
            try:
                delay = await self._send_and_plan()
            except (SQLAlchemyError, OSError):
                log.exception("task reminders: database unavailable; retrying")
                delay = RETRY_AFTER_ERROR
            self._sleeping_until = self._clock() + timedelta(seconds=delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._sleeping_until = None

    async def _send_and_plan(self) -> float:
        async with self._db() as session:
            while await send_due_reminders(session, self._notifier, self._clock()) == BATCH:
                pass
            upcoming = await next_reminder_at(session)
        if upcoming is None:
            return self._max_sleep
        seconds = (upcoming - self._clock()).total_seconds()
        return min(max(seconds, MIN_SLEEP), self._max_sleep)
