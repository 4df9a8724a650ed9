"""A caller who gives up in the queue: logged as abandoned, a callback for the right person."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import ImpatientCaller, Phone
from callcenter.models import Call, Task
from tests.integration.cti_helpers import make_world, running_pipeline, until

pytestmark = [pytest.mark.asterisk, pytest.mark.db]


@pytest.mark.parametrize(("number", "assignee"), [("84951234567", "102"), ("89165550101", None)])
async def test_a_caller_who_gives_up_becomes_a_callback(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
    number: str,
    assignee: str | None,
) -> None:
    world = await make_world(db)
    async with running_pipeline(db, asterisk_sandbox.ami_port) as (inbound, _, notifier):
        operator_phone("101", answer=False)
        operator_phone("102", answer=False)
        with ImpatientCaller(sipp_dir, cidnum=number, wait_ms=3000):
            await until(lambda: bool(notifier.of_type("call.ended")), 20, "the end of the call")
        await asyncio.wait_for(inbound.call_log.drained(), 10)
    async with db() as session:
        call = (await session.execute(select(Call))).scalar_one()
        task = (await session.execute(select(Task).where(Task.kind == "callback"))).scalar_one()
    assert call.result in ("abandoned", "missed") and call.answered_at is None
    assert call.wait_seconds is not None and call.wait_seconds >= 2
    assert task.call_id == call.id and task.status == "open"
    expected = world.operators[assignee].id if assignee else None
    assert task.assignee_id == expected
