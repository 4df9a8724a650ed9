"""The call log writes one row per Linkedid, whatever order or how often it is told."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import LiveSnapshot
from callcenter.app.inbound import InboundPipeline
from callcenter.call_log import CallLog
from callcenter.devices import DeviceDirectory
from callcenter.models import Call, CallLeg, Interaction, TrackingNumber
from tests.integration.cti_helpers import (
    T0,
    RecordingNotifier,
    answered,
    ended,
    make_world,
    queue_call,
)

pytestmark = pytest.mark.db


@pytest.fixture
async def call_log(db: async_sessionmaker[AsyncSession]) -> CallLog:
    devices = DeviceDirectory(db)
    await make_world(db)
    await devices.reload()
    return CallLog(db, devices, "RU")


async def count(db: async_sessionmaker[AsyncSession], model: type) -> int:
    async with db() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_call_is_logged_against_its_client_with_wait_and_talk(
    db: async_sessionmaker[AsyncSession], call_log: CallLog
) -> None:
    async with db() as session:
        session.add(TrackingNumber(did_e164="+74951112233", label="Яндекс"))
        await session.commit()
    start = queue_call()
    final = ended(answered(start, after=7), after=67)
    for snapshot in (start, answered(start, after=7), final):
        await call_log.write(snapshot)
    async with db() as session:
        call = (await session.execute(select(Call))).scalar_one()
        assert call.linkedid == start.linkedid
        assert (call.caller_number, call.caller_e164, call.caller_name) == (
            "84951234567",
            "+74951234567",
            "Ivan",
        )
        assert call.contact_id is not None and call.tracking_number_id is not None
        assert (call.result, call.wait_seconds, call.talk_seconds) == ("answered", 7, 60)
        assert call.answered_by_id is not None and call.queue_name == "support"
        legs = (await session.execute(select(CallLeg.kind, CallLeg.user_id))).all()
        assert sorted(kind for kind, _ in legs) == ["agent", "caller"]
        timeline = (
            (await session.execute(select(Interaction).where(Interaction.kind == "call")))
            .scalars()
            .all()
        )
        assert [(t.call_id, t.contact_id) for t in timeline] == [(call.id, call.contact_id)]


async def test_repeated_and_late_snapshots_never_duplicate_or_reopen(
    db: async_sessionmaker[AsyncSession], call_log: CallLog
) -> None:
    start = queue_call()
    final = ended(answered(start))
    for snapshot in (final, start, final, answered(start), start):
        await call_log.write(snapshot)
    assert await count(db, Call) == 1
    assert await count(db, CallLeg) == 2
    assert await count(db, Interaction) == 2  # the world's note + one call entry
    async with db() as session:
        call = (await session.execute(select(Call))).scalar_one()
    assert call.result == "answered" and call.ended_at == final.ended_at
    assert call.talk_seconds == 60


async def test_the_writer_task_coalesces_and_drains(
    db: async_sessionmaker[AsyncSession], call_log: CallLog
) -> None:
    writer = asyncio.create_task(call_log.run())
    try:
        for i in range(20):
            call = queue_call(linkedid=f"1700000000.{i}", number=f"8916000{i:04d}")
            call_log.call_started(call)
            call_log.call_ended(ended(replace(call, result="abandoned"), result="abandoned"))
        await asyncio.wait_for(call_log.drained(), 10)
    finally:
        writer.cancel()
    assert await count(db, Call) == 20
    async with db() as session:
        results = set((await session.execute(select(Call.result))).scalars())
    assert results == {"abandoned"}


async def test_calls_an_earlier_run_left_open_are_closed_once_not_live_ones(
    db: async_sessionmaker[AsyncSession], call_log: CallLog
) -> None:
    """A process stopped mid-call: the next one closes what ended meanwhile, at the last
    moment known of it, and keeps what is still up or started after it came."""
    talking = answered(queue_call("1700000000.1"), after=7)  # answered, then the restart
    ringing = queue_call("1700000000.2", number="84951234500")  # unanswered, then the restart
    still_up = queue_call("1700000000.3")
    for snapshot in (talking, ringing, still_up):
        await call_log.write(snapshot)
    restarted = T0 + timedelta(minutes=5)
    newer = replace(queue_call("1700000000.4"), started_at=restarted + timedelta(seconds=1))
    await call_log.write(newer)

    assert await call_log.close_orphans({still_up.linkedid}, restarted) == 2
    assert await call_log.close_orphans({still_up.linkedid}, restarted) == 0  # once
    async with db() as session:
        rows = {c.linkedid: c for c in (await session.scalars(select(Call))).all()}
        open_legs = await session.scalar(
            select(func.count()).where(
                CallLeg.ended_at.is_(None),
                CallLeg.call_id.in_([rows[talking.linkedid].id, rows[ringing.linkedid].id]),
            )
        )
        timeline = await session.scalar(
            select(func.count()).where(Interaction.call_id == rows[talking.linkedid].id)
        )
    assert (rows[talking.linkedid].result, rows[talking.linkedid].ended_at) == (
        "answered",
        T0 + timedelta(seconds=7),
    )
    assert (rows[ringing.linkedid].result, rows[ringing.linkedid].ended_at) == ("unknown", T0)
    assert rows[still_up.linkedid].result == rows[newer.linkedid].result == "in_progress"
    assert open_legs == 0 and timeline == 1

    # the real end, written late (a backlog from before the restart), still wins
    await call_log.write(ended(talking, after=60))
    async with db() as session:
        late = await session.scalar(select(Call).where(Call.linkedid == talking.linkedid))
    assert late is not None and late.ended_at == T0 + timedelta(seconds=60)


async def test_the_pipeline_closes_an_earlier_runs_calls_after_its_first_resync(
    db: async_sessionmaker[AsyncSession], call_log: CallLog
) -> None:
    left_open = answered(queue_call("1700000000.7"), after=3)
    await call_log.write(left_open)  # by "the earlier run": T0 is long before now
    pipeline = InboundPipeline(db, RecordingNotifier(), region="RU")
    await pipeline.resync(LiveSnapshot(datetime.now(UTC), (), (), (), ()))
    assert pipeline._orphans is not None
    await asyncio.wait_for(pipeline._orphans, 10)
    async with db() as session:
        row = await session.scalar(select(Call).where(Call.linkedid == left_open.linkedid))
    assert row is not None and row.result == "answered"
    first = pipeline._orphans
    await pipeline.resync(LiveSnapshot(datetime.now(UTC), (), (), (), ()))
    assert pipeline._orphans is first  # done once per process
