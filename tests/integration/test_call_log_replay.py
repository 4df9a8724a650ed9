"""Every recorded trace, each event twice and shuffled within 2 s, through translator,
tracker and call log into PostgreSQL: exactly one call row per distinct Linkedid."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.translate import translate
from callcenter.call_log import CallLog
from callcenter.devices import DeviceDirectory
from callcenter.models import Call
from callcenter.tracker import CallTracker
from tests.fixtures.ami import TRACES, load_messages
from tests.integration.cti_helpers import make_world
from tests.unit.test_tracker import shuffled

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 23, tzinfo=UTC)


async def test_duplicated_shuffled_traces_give_one_row_per_linkedid(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(db)
    devices = DeviceDirectory(db)
    await devices.reload()
    call_log = CallLog(db, devices, "RU")
    tracker = CallTracker(call_log)
    writer = asyncio.create_task(call_log.run())
    linkedids: set[str] = set()
    try:
        for seed, name in enumerate(TRACES):
            events = [e for m in load_messages(name) if (e := translate(m, NOW)) is not None]
            linkedids |= {e.linkedid for e in events if getattr(e, "linkedid", None)}
            for event in shuffled(events, seed):
                tracker.handle(event)
        await asyncio.wait_for(call_log.drained(), 30)
    finally:
        writer.cancel()
    async with db() as session:
        rows = (await session.execute(select(Call.linkedid, Call.result))).all()
    assert sorted(linkedid for linkedid, _ in rows) == sorted(linkedids)
    assert "in_progress" not in {result for _, result in rows}
    assert len(rows) >= len(TRACES)
