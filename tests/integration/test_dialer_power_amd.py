"""Power mode, the line caps and answering-machine detection, on the sandbox Asterisk.

Like ``test_dialer_engine``: sipp customers behind the trunk, sipp operators, and the AMI
wire log read through a recording proxy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Phone
from callcenter.models import Call
from tests.integration.dialer_engine_helpers import (
    ANSWERS,
    MACHINE,
    attempts,
    make_campaign,
    originates,
    running_dialer,
    settled,
)
from tests.integration.test_ami_link import AmiProxy
from tests.integration.test_dialer_engine import max_overlap

pytestmark = [pytest.mark.asterisk, pytest.mark.db]


async def test_power_keeps_its_lines_per_ready_operator(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(81, 85)]
    floor = await make_campaign(db, numbers, mode="power", lines_per_operator=2)
    operator_phone("106", ring_ms=100)
    customers(ring_ms=1500, talk_ms=800)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    assert len(wire) == len(rows) == len(numbers)
    # two lines for the one ready operator: both ring at once, never a third
    assert max_overlap(rows) == 2
    # both answer; the operator takes one, the other finds nobody within the grace
    outcomes = sorted(a.outcome for a in rows)
    assert set(outcomes) <= {"answered", "abandoned"} and "answered" in outcomes


async def test_a_campaign_never_opens_more_lines_than_its_cap(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(85, 90)]
    floor = await make_campaign(
        db,
        numbers,
        extensions=("106", "107"),
        mode="power",
        lines_per_operator=3,  # six wanted ...
        max_lines=2,  # ... two allowed
    )
    operator_phone("106", ring_ms=100)
    operator_phone("107", ring_ms=100)
    customers(ring_ms=1000, talk_ms=500)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    assert len(wire) == len(rows) == len(numbers)
    assert max_overlap(rows) == 2


async def test_an_answering_machine_is_hung_up_on_and_never_reaches_an_operator(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    # this customer answers and sends silence: AMD() hears the initial silence of a
    # machine waiting for its beep (amd.conf's initial_silence, 2.5 s). The other one
    # sends nothing at all: AMD() cannot tell (NOTSURE), so an operator takes the call
    machine, unsure = MACHINE + "0091", ANSWERS + "0092"
    floor = await make_campaign(db, [machine, unsure], amd_enabled=True)
    operator_phone("106", ring_ms=100)
    customers(ring_ms=200, talk_ms=8000)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        await settled(db, floor.campaign_id, 2)
        wire = originates(bytes(proxy.sent))

    assert all("CALLCENTER_AMD=1" in o["Variable"].split(";") for o in wire)
    rows = {a.lead_id: a for a in await attempts(db, floor.campaign_id)}
    by_machine, by_person = rows[floor.leads[machine]], rows[floor.leads[unsure]]
    assert (by_machine.outcome, by_person.outcome) == ("machine", "answered")
    async with db() as session:
        calls = {
            c.lead_id: c
            for c in await session.scalars(
                select(Call).where(Call.campaign_id == floor.campaign_id)
            )
        }
    operator = floor.operators["106"].id
    assert calls[by_machine.lead_id].answered_by_id is None
    assert calls[by_person.lead_id].answered_by_id == operator
    # only the person's call rang the operator's phone
    rang = {p["linkedid"] for _, p in dialer.notifier.of_type("call.ringing")}
    assert rang == {calls[by_person.lead_id].linkedid}
