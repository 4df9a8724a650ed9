"""Asterisk restarted while calls are up: the listener comes back and closes every call once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus, sandbox_down, sandbox_up
from ami.sandbox.sipp import Caller, CallSpec, Phone
from callcenter.models import Call
from tests.integration.cti_helpers import make_world, running_pipeline, until

pytestmark = [pytest.mark.asterisk, pytest.mark.db]


async def test_calls_up_during_a_restart_are_closed_once_and_logging_goes_on(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    world = await make_world(db)
    async with running_pipeline(db, asterisk_sandbox.ami_port) as (inbound, link, notifier):
        operator_phone("101", ring_ms=200)
        specs = [CallSpec(f"8916555000{i}", f"Caller {i}", "101") for i in range(4)]
        sipp_caller(specs=specs, calls=4, rate=10, hold_ms=60_000)
        await until(
            lambda: sum(c.answered_at is not None for c in inbound.tracker.live_calls()) == 4,
            20,
            "four answered calls",
        )
        up = {c.linkedid for c in inbound.tracker.live_calls()}

        sandbox_down()
        sandbox_up(timeout=60)
        await until(lambda: link.connections >= 2 and link.resyncs >= 2, 30, "reconnect")
        await until(lambda: not inbound.tracker.live_calls(), 10, "calls closed")
        await asyncio.wait_for(inbound.call_log.drained(), 10)

        # the listener still works: a new call after the restart is logged
        operator_phone("102", ring_ms=200)
        sipp_caller(did="102", cidnum="84951234567", cidname="Ivan", hold_ms=500)
        await until(lambda: len(notifier.of_type("call.ended")) >= 5, 20, "the new call")
        await asyncio.wait_for(inbound.call_log.drained(), 10)

    async with db() as session:
        rows = (await session.execute(select(Call))).scalars().all()
    by_linkedid = {row.linkedid: row for row in rows}
    assert len(rows) == len(by_linkedid) == 5  # no duplicates
    for linkedid in up:
        row = by_linkedid[linkedid]
        assert row.result == "answered" and row.ended_at is not None
        assert row.answered_by_id == world.operators["101"].id
    (after,) = [row for row in rows if row.linkedid not in up]
    assert after.result == "answered" and after.contact_id == world.contact_id
