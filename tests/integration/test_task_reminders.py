"""Task reminders: sent at their time, once, by one of several processes, again after a
reschedule, and late ones caught up after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Task, TaskKind
from callcenter.reminders import ReminderLoop
from callcenter.task_edits import TaskChange, change_task
from callcenter.tasks import TASK_REMINDER, NewTask, add_task
from tests.integration.cti_helpers import RecordingNotifier, World, make_world

pytestmark = pytest.mark.db


@asynccontextmanager
async def running(loop: ReminderLoop) -> AsyncIterator[ReminderLoop]:
    task = asyncio.create_task(loop.run())
    try:
        yield loop
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def new_task(
    db: async_sessionmaker[AsyncSession],
    assignee_id: int | None,
    due_at: datetime | None,
    title: str = "Перезвонить по счёту",
    contact_id: int | None = None,
    **extra: object,
) -> int:
    async with db() as session:
        task = await add_task(
            session,
            NewTask(
                kind=TaskKind.CALLBACK if due_at else TaskKind.TODO,
                title=title,
                assignee_id=assignee_id,
                contact_id=contact_id,
                due_at=due_at,
            ),
        )
        for name, value in extra.items():
            setattr(task, name, value)
        await session.commit()
        return task.id


def reminded_ids(notifier: RecordingNotifier) -> list[int]:
    return [payload["id"] for _users, payload in notifier.of_type(TASK_REMINDER)]


async def test_a_reminder_goes_out_at_its_time_once_and_not_before(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    op = world.operators["101"]
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    task_id = await new_task(db, op.id, due, contact_id=world.contact_id)
    notifier = RecordingNotifier()
    loop = ReminderLoop(db, notifier)
    async with running(loop):
        await asyncio.sleep(1.0)
        assert notifier.of_type(TASK_REMINDER) == []  # half a second early: nothing yet
        await notifier.wait_for(TASK_REMINDER, timeout=3)
        arrived = datetime.now(UTC)
        loop.wake()  # looking again finds nothing more to send
        await asyncio.sleep(0.5)
    assert due <= arrived < due + timedelta(seconds=1)
    [(users, payload)] = notifier.of_type(TASK_REMINDER)
    assert users == (op.id,)
    assert payload["id"] == task_id and payload["title"] == "Перезвонить по счёту"
    assert payload["contact_name"] == "Петров Иван" and payload["overdue"] is False
    async with db() as session:
        task = await session.get(Task, task_id)
        assert task is not None and task.reminded_at is not None


async def test_a_sooner_task_wakes_a_sleeping_loop(db: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(db)
    op = world.operators["101"]
    notifier = RecordingNotifier()
    loop = ReminderLoop(db, notifier, max_sleep=30)
    async with running(loop):
        await asyncio.sleep(0.3)  # asleep for 30 s: nothing is due
        due = datetime.now(UTC) + timedelta(seconds=0.5)
        await new_task(db, op.id, due)
        loop.wake(due)
        started = time.monotonic()
        await notifier.wait_for(TASK_REMINDER, timeout=3)
    assert time.monotonic() - started < 2


async def test_reminders_missed_while_stopped_go_out_at_start_flagged_overdue(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    op = world.operators["101"]
    notifier = RecordingNotifier()
    async with running(ReminderLoop(db, notifier)):
        await asyncio.sleep(0.2)
    # while "the server was down": one fell due, one was sent before, one was done,
    # one is nobody's, one is still to come
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    late = await new_task(db, op.id, hour_ago, title="Просрочено")
    await new_task(db, op.id, hour_ago, title="Уже напомнили", reminded_at=hour_ago)
    await new_task(db, op.id, hour_ago, title="Сделано", status="done", done_at=hour_ago)
    await new_task(db, None, hour_ago, title="Ничья")
    await new_task(db, op.id, datetime.now(UTC) + timedelta(hours=1), title="Потом")

    async with running(ReminderLoop(db, notifier)):
        await notifier.wait_for(TASK_REMINDER, timeout=3)
        await asyncio.sleep(0.3)
    assert reminded_ids(notifier) == [late]
    assert notifier.of_type(TASK_REMINDER)[0][1]["overdue"] is True


async def test_two_processes_never_send_the_same_reminder(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    operators = [world.operators["101"].id, world.operators["102"].id]
    due = datetime.now(UTC) + timedelta(seconds=1)
    ids = [await new_task(db, operators[n % 2], due, title=f"Задача {n}") for n in range(60)]
    first, second = RecordingNotifier(), RecordingNotifier()
    async with running(ReminderLoop(db, first)), running(ReminderLoop(db, second)):
        deadline = time.monotonic() + 5
        while len(reminded_ids(first)) + len(reminded_ids(second)) < len(ids):
            assert time.monotonic() < deadline, "not every reminder went out"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    sent = reminded_ids(first) + reminded_ids(second)
    assert sorted(sent) == sorted(ids)  # each once: none twice, none lost


async def test_a_rescheduled_task_is_reminded_again_at_its_new_time(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world: World = await make_world(db)
    op = world.operators["101"]
    task_id = await new_task(db, op.id, datetime.now(UTC) - timedelta(minutes=5))
    notifier = RecordingNotifier()
    loop = ReminderLoop(db, notifier)

    async def change(**values: object) -> Task:
        async with db() as session:
            task = await session.get(Task, task_id)
            assert task is not None
            await change_task(session, op, task, TaskChange(dict(values)), datetime.now(UTC))
            await session.commit()
            return task

    async with running(loop):
        await notifier.wait_for(TASK_REMINDER, timeout=3)
        retitled = await change(title="Перезвонить после обеда")
        assert retitled.reminded_at is not None  # the time did not move: no new reminder
        new_due = datetime.now(UTC) + timedelta(seconds=1)
        moved = await change(due_at=new_due)
        assert moved.reminded_at is None and moved.remind_at == new_due
        loop.wake(new_due)
        await notifier.wait_for(TASK_REMINDER, count=2, timeout=3)
        await asyncio.sleep(0.3)
    assert reminded_ids(notifier) == [task_id, task_id]
    first, second = (payload for _users, payload in notifier.of_type(TASK_REMINDER))
    assert first["overdue"] is True and second["overdue"] is False
    assert second["title"] == "Перезвонить после обеда"
    async with db() as session:
        assert await session.scalar(select(Task.reminded_at).where(Task.id == task_id))
