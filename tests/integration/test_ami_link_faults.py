"""Issue 7, item 2: the AMI link reset, then silently frozen, during 20 calls/s.

sipp callers keep 20 calls a second coming into op101 (each talks 12 s) while the
proxy between the listener and Asterisk first resets the link, then freezes it
(TCP stays open, nothing more gets through either way, no RST). The listener
runs with the product's own link timings, so the frozen link is noticed by the
Ping watchdog as it would be in production. Asterisk's CDR is the oracle: after
the reconnects every call it wrote is in the calls table once, closed, answered.

What AMI cannot give back: a call that begins *and* ends while the link is down
leaves no trace in any event or list the listener can read afterwards (AMI has no
replay). The calls here last longer than the outages, so every call is either
known before a fault or still live at the resync that follows it; the test
counts both kinds to show the faults really hit calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Caller, Phone
from callcenter.settings import Secret
from tests.integration.cti_helpers import make_world, until
from tests.integration.fault_helpers import CdrFile, CdrLine, call_rows, listening, reconcile
from tests.integration.test_ami_link import AmiProxy
from tests.reliability_figures import record

pytestmark = [pytest.mark.asterisk, pytest.mark.db]

RATE = 20  # calls per second
CALLS = 1000  # 50 s of calls
TALK_MS = 12_000  # longer than an outage: see the module's doc
DETECTED_WITHIN = 15.0


def test_the_products_watchdog_notices_a_frozen_link_within_fifteen_seconds() -> None:
    # the listener below runs with these defaults, as ``serve`` does
    link = AmiLink("127.0.0.1", 5038, "callcenter", Secret("callcenter-sandbox"))
    assert link.ping_interval + link.ping_timeout <= DETECTED_WITHIN


async def test_a_reset_and_a_frozen_link_at_twenty_calls_a_second_lose_no_call(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    cdr = CdrFile(asterisk_sandbox.cdr_csv)
    operator_phone("101", ring_ms=100)
    outages: list[tuple[float, float]] = []  # (down, resynced), wall clock

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, listening(db, proxy.port) as ear:
        tracker = ear.inbound.tracker
        assert ear.link.ping_interval + ear.link.ping_timeout <= DETECTED_WITHIN
        await until(lambda: bool(ear.resynced_at), 10, "first resync")
        caller = sipp_caller(
            did="101",
            cidnum="84957000000",
            cidname="Load",
            calls=CALLS,
            rate=RATE,
            hold_ms=TALK_MS,
            max_concurrent=600,
        )
        await until(lambda: len(tracker.live_calls()) >= 150, 30, "the calls up")

        reset, reset_wall = time.monotonic(), time.time()
        proxy.reset()
        await until(lambda: ear.resync_since(reset) is not None, 15, "the resync after the reset")
        reset_back = (ear.resync_since(reset) or 0) - reset
        outages.append((reset_wall, reset_wall + reset_back))

        await until(lambda: len(tracker.live_calls()) >= 200, 30, "the calls up again")
        frozen, frozen_wall = time.monotonic(), time.time()
        proxy.freeze()
        await until(
            lambda: ear.state_since("disconnected", frozen) is not None,
            DETECTED_WITHIN + 10,
            "the frozen link noticed",
        )
        detected = (ear.state_since("disconnected", frozen) or 0) - frozen
        await until(lambda: ear.resync_since(frozen) is not None, 15, "the resync after freeze")
        frozen_back = (ear.resync_since(frozen) or 0) - frozen
        outages.append((frozen_wall, frozen_wall + frozen_back))

        code = await _finished(caller, CALLS / RATE + TALK_MS / 1000 + 30)
        await until(lambda: not tracker.live_calls(), 15, "every call closed")
        assert ear.link.watchdog_trips == 1 and ear.link.connections == 3

    calls = cdr.calls()
    check = reconcile(calls, await call_rows(db))
    spanning = [_hit(lines, outages) for lines in calls.values()]
    record(
        "ami_link_faults",
        calls_per_second=RATE,
        calls=check.cdr_calls,
        frozen_detected_seconds=round(detected, 2),
        frozen_resynced_seconds=round(frozen_back, 2),
        reset_reconnect_seconds=round(reset_back, 2),
        began_while_down=spanning.count("began"),
        ended_while_down=spanning.count("ended"),
        unreconciled=check.unreconciled,
    )

    assert code == 0, caller.diagnostics()  # sipp: every call went through
    assert detected <= DETECTED_WITHIN
    assert reset_back < 10 and frozen_back < DETECTED_WITHIN + 5
    assert check.cdr_calls == CALLS, check.cdr_calls
    assert check.unreconciled == 0, check
    # the faults hit calls both ways: some ended unheard, some began unheard
    assert spanning.count("ended") > 20 and spanning.count("began") > 20, spanning


async def _finished(caller: Caller, timeout: float) -> int:
    return await asyncio.to_thread(caller.wait, timeout)


def _hit(lines: list[CdrLine], outages: list[tuple[float, float]]) -> str:
    """'began' or 'ended' when the call did that while the link was down, else ''."""
    start = min(line.start for line in lines)
    end = max(line.end for line in lines)
    # the CDR has whole seconds: only count what certainly fell inside
    for down, back in outages:
        if down + 1 <= start and start + 1 <= back:
            return "began"
        if down + 1 <= end and end + 1 <= back:
            return "ended"
    return ""
