"""Missed and abandoned calls become callback tasks that close once the client is reached."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.call_log import CallLog
from callcenter.devices import DeviceDirectory
from callcenter.missed_calls import open_callbacks
from callcenter.models import Task
from tests.integration.cti_helpers import World, answered, ended, make_world, queue_call

pytestmark = pytest.mark.db


@pytest.fixture
async def world_and_log(db: async_sessionmaker[AsyncSession]) -> tuple[World, CallLog]:
    world = await make_world(db)
    devices = DeviceDirectory(db)
    await devices.reload()
    return world, CallLog(db, devices, "RU")


async def tasks(db: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with db() as session:
        return list((await session.execute(select(Task).where(Task.kind == "callback"))).scalars())


async def test_an_abandoned_call_goes_to_the_personal_manager_once(
    db: async_sessionmaker[AsyncSession], world_and_log: tuple[World, CallLog]
) -> None:
    world, call_log = world_and_log
    abandoned = ended(queue_call(), after=20, result="abandoned")
    await call_log.write(abandoned)
    await call_log.write(abandoned)  # told twice: still one task
    (task,) = await tasks(db)
    assert task.assignee_id == world.operators["102"].id  # Иван Петров's personal manager
    assert task.contact_id == world.contact_id and task.status == "open"
    assert task.due_at == abandoned.ended_at


async def test_unknown_missed_callers_are_everyones_until_reached(
    db: async_sessionmaker[AsyncSession], world_and_log: tuple[World, CallLog]
) -> None:
    world, call_log = world_and_log
    missed = ended(queue_call(linkedid="1.1", number="89160000001"), after=30, result="missed")
    await call_log.write(missed)
    (task,) = await tasks(db)
    assert task.assignee_id is None and task.contact_id is None
    async with db() as session:
        shown = await open_callbacks(session, world.operators["101"].id)
    assert [(t["id"], t["e164"]) for t in shown] == [(task.id, "+79160000001")]

    # the client calls again an hour later and gets through: the task closes itself
    later = replace(
        queue_call(linkedid="2.1", number="+79160000001"),
        started_at=missed.started_at + timedelta(hours=1),
    )
    await call_log.write(ended(answered(later)))
    (task,) = await tasks(db)
    assert task.status == "done" and task.done_at is not None
    async with db() as session:
        assert await open_callbacks(session, world.operators["101"].id) == []


async def test_answered_calls_make_no_callback(
    db: async_sessionmaker[AsyncSession], world_and_log: tuple[World, CallLog]
) -> None:
    _, call_log = world_and_log
    await call_log.write(ended(answered(queue_call())))
    assert await tasks(db) == []
