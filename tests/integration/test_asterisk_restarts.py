"""Issue 7, item 1: Asterisk restarted ten times while fifty calls are up.

Each round puts 50 answered calls up (sipp callers to op101) and one click-to-dial
Originate ringing op103's phone, then stops and starts Asterisk. A restart ends
every call, so each round brings up its own 50. Asterisk's own CDR file is the
oracle: every call it wrote must be in the calls table exactly once, closed, and
answered when Asterisk says it was; each Originate the link wrote must have
produced exactly one call (the wire log, op103's phone and the CDR agree), so
none was re-sent after a reconnect.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus, sandbox_down, sandbox_up
from ami.sandbox.sipp import Caller, Phone
from callcenter.telephony import OriginateRequest
from tests.integration.cti_helpers import make_world, until
from tests.integration.dialer_engine_helpers import originates
from tests.integration.fault_helpers import CdrFile, call_rows, listening, reconcile
from tests.integration.test_ami_link import AmiProxy
from tests.reliability_figures import record

pytestmark = [pytest.mark.asterisk, pytest.mark.db]

RESTARTS = 10
CALLS_UP = 50
BACK_WITHIN = 10.0  # seconds from Asterisk fully booted to the listener resynced


async def test_ten_restarts_with_fifty_calls_up_lose_no_call_and_resend_no_originate(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    world = await make_world(db)
    cdr = CdrFile(asterisk_sandbox.cdr_csv)
    operator_phone("101", ring_ms=100)
    # rings far longer than a round: its Originate is always in flight at the restart
    clicked = operator_phone("103", ring_ms=60_000)
    back: list[float] = []  # Asterisk booted -> listener resynced
    outage: list[float] = []  # stop begun -> listener resynced
    request_ids: list[str] = []

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, listening(db, proxy.port) as ear:
        tracker = ear.inbound.tracker
        await until(lambda: bool(ear.resynced_at), 10, "first resync")
        for round_ in range(RESTARTS):
            caller = sipp_caller(
                did="101",
                cidnum=f"849500{round_:02d}000",
                cidname=f"Round {round_}",
                calls=CALLS_UP,
                rate=50,
                hold_ms=120_000,
            )
            await until(
                lambda: sum(c.answered_at is not None for c in tracker.live_calls()) == CALLS_UP,
                30,
                f"{CALLS_UP} answered calls in round {round_}",
            )
            accepted = await ear.telephony.originate(
                OriginateRequest(endpoint="op103", number="89160000000")
            )
            request_ids.append(accepted.request_id)
            await until(
                lambda: any(
                    leg.device == "PJSIP/op103" for c in tracker.live_calls() for leg in c.legs
                ),
                10,
                f"op103 ringing in round {round_}",
            )

            stopping = time.monotonic()
            await asyncio.to_thread(sandbox_down)
            await asyncio.to_thread(sandbox_up, 60)
            booted = time.monotonic()
            try:
                await until(lambda t=booted: ear.resync_since(t) is not None, 30, "the resync")
            except AssertionError as missed:
                # the link's own account, so a failure says where the reconnect stopped
                states = [(round(t - stopping, 1), s) for t, s in ear.states if t >= stopping]
                raise AssertionError(
                    f"{missed} in round {round_}; link states since the stop {states}, "
                    f"{ear.link.connections} connections, last error {ear.link.last_error}"
                ) from None
            resynced = ear.resync_since(booted)
            assert resynced is not None
            back.append(resynced - booted)
            outage.append(resynced - stopping)
            await until(lambda: not tracker.live_calls(), 10, f"round {round_} closed")
            await asyncio.to_thread(caller.wait, 10)  # Asterisk's BYE at shutdown ended every call

        # still listening after all that: one more call is logged as usual
        sipp_caller(did="101", cidnum="84951234567", cidname="Ivan", hold_ms=500)
        await until(
            lambda: any(line.src == "84951234567" for line in cdr.lines()), 20, "the last call"
        )
        await until(lambda: not tracker.live_calls(), 10, "the last call closed")
        wire = originates(bytes(proxy.sent))

    await asyncio.sleep(1.5)  # sipp writes its statistics every second
    op103_calls = int(clicked.stats().get("IncomingCall(C)", "0"))
    calls = cdr.calls()
    rows = await call_rows(db)
    check = reconcile(calls, rows)
    clicked_calls = {
        linkedid
        for linkedid, lines in calls.items()
        if any(line.channel.startswith("PJSIP/op103-") for line in lines)
    }
    resent = len(wire) - len({o["ActionID"] for o in wire})
    record(
        "asterisk_restart",
        restarts=RESTARTS,
        calls_up=CALLS_UP,
        max_reconnect_seconds=round(max(back), 2),
        median_reconnect_seconds=round(statistics.median(back), 2),
        max_outage_seconds=round(max(outage), 2),
        cdr_calls=check.cdr_calls,
        missing=len(check.missing),
        duplicated=len(check.duplicated),
        in_progress_after_60s=len(check.in_progress),
        originates=len(wire),
        originates_resent=resent + max(0, op103_calls - len(request_ids)),
    )

    assert max(back) < BACK_WITHIN, back
    # the oracle: every call Asterisk wrote, once, closed, with Asterisk's answer
    assert check.cdr_calls == RESTARTS * (CALLS_UP + 1) + 1, check
    assert check.missing == [] and check.duplicated == [], check
    assert check.in_progress == [] and check.wrong_result == [], check
    assert sum(r.answered_by_id == world.operators["101"].id for r in rows) == RESTARTS * 50 + 1
    # each click-to-dial written once, rang once, and Asterisk logged one call for it
    assert [o["ActionID"] for o in wire] == request_ids
    assert op103_calls == len(clicked_calls) == RESTARTS
