"""The dialer engine on the sandbox Asterisk: sipp customers behind the trunk, sipp operators.

Every test reads what the AMI link really wrote (a recording proxy between the link
and Asterisk) and what the database says about each attempt and lead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Phone
from callcenter.models import Call, CallAttempt, Contact, ContactPhone, DoNotCall, Lead
from dialer import control
from tests.integration.dialer_engine_helpers import (
    ANSWERS,
    BUSY,
    DECLINES,
    FORBIDS,
    RINGS_OUT,
    attempts,
    dialled_number,
    engine_running,
    leads_by_id,
    make_campaign,
    originates,
    running_dialer,
    settled,
    until,
    wire_actions,
)
from tests.integration.test_ami_link import AmiProxy

pytestmark = [pytest.mark.asterisk, pytest.mark.db]


async def test_progressive_places_a_call_per_ready_operator_and_records_each_result(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [
        ANSWERS + "0001",
        BUSY + "0001",
        DECLINES + "0001",
        FORBIDS + "0001",
        RINGS_OUT + "0001",
    ]
    floor = await make_campaign(db, numbers, extensions=("106", "107"))
    async with db() as session:
        known = Contact(first_name="Пётр", last_name="Лидов")
        session.add(known)
        await session.flush()
        session.add(ContactPhone(contact_id=known.id, raw=numbers[0], e164=numbers[0]))
        await session.commit()
    operator_phone("106", ring_ms=200)
    operator_phone("107", ring_ms=200)
    customers(ring_ms=500, talk_ms=1500)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    outcomes = {floor_number(floor.leads, a.lead_id): a.outcome for a in rows}
    assert outcomes == {
        numbers[0]: "answered",
        numbers[1]: "busy",
        numbers[2]: "failed",  # 603 Decline: Q.850 21, call rejected
        numbers[3]: "failed",  # 403 Forbidden: the same
        numbers[4]: "no_answer",  # rang 15 s, nobody picked up
    }
    # one Originate per attempt, customer first, with the attempt's ids on every leg
    assert sorted(o["ActionID"] for o in wire) == sorted(a.action_id for a in rows)
    assert sorted(dialled_number(o) for o in wire) == sorted(numbers)
    assert {o["Context"] for o in wire} == {"dialer-auto"}
    assert all(o["Timeout"] == "15000" for o in wire)
    # never more calls in flight than operators (progressive): checked on the attempts
    assert max_overlap(rows) <= 2

    leads = await leads_by_id(db, floor.campaign_id)
    assert leads[floor.leads[numbers[0]]].status == "done"
    assert {leads[floor.leads[n]].status for n in numbers[1:]} == {"failed"}  # max attempts 1

    answered = next(a for a in rows if a.outcome == "answered")
    async with db() as session:
        call = await session.scalar(select(Call).where(Call.id == answered.call_id))
    assert call is not None
    assert (call.campaign_id, call.lead_id) == (floor.campaign_id, answered.lead_id)
    assert call.caller_e164 == numbers[0] and call.contact_id == known.id
    assert call.answered_by_id in {u.id for u in floor.operators.values()}
    # the operator's screen-pop shows the lead's client while their phone rings
    pops = dialer.notifier.of_type("call.ringing")
    assert [p["client"]["contact_id"] for _, p in pops if p["linkedid"] == call.linkedid] == [
        known.id
    ]


async def test_predictive_places_calls_and_records_their_results(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [ANSWERS + "0011", BUSY + "0011", ANSWERS + "0012", RINGS_OUT + "0011"]
    floor = await make_campaign(db, numbers, extensions=("106", "107"), mode="predictive")
    operator_phone("106", ring_ms=200)
    operator_phone("107", ring_ms=200)
    customers(ring_ms=500, talk_ms=1000)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    outcomes = sorted((floor_number(floor.leads, a.lead_id), a.outcome) for a in rows)
    assert outcomes == sorted(
        [
            (numbers[0], "answered"),
            (numbers[1], "busy"),
            (numbers[2], "answered"),
            (numbers[3], "no_answer"),
        ]
    )
    assert sorted(o["ActionID"] for o in wire) == sorted(a.action_id for a in rows)
    async with db() as session:
        linked = await session.scalars(
            select(Call.lead_id).where(Call.campaign_id == floor.campaign_id)
        )
        # every call has its row, answered or not, linked to its lead
        assert Counter(linked) == Counter(floor.leads.values())


async def test_an_answered_call_no_operator_takes_within_the_grace_is_abandoned(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    floor = await make_campaign(db, [ANSWERS + "0021"], mode="predictive")
    operator_phone("106", answer=False)  # rings, nobody picks up
    customers(ring_ms=300)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await settled(db, floor.campaign_id, 1)

    (attempt,) = await attempts(db, floor.campaign_id)
    assert attempt.outcome == "abandoned"
    async with db() as session:
        call = await session.scalar(select(Call).where(Call.id == attempt.call_id))
    assert call is not None and call.result == "abandoned" and call.answered_by_id is None
    # the customer waited the grace (2 s), heard the goodbye message, and was hung up on
    assert call.ended_at is not None and call.answered_at is None
    assert 2 <= (call.ended_at - call.started_at).total_seconds() < 10


async def test_a_callback_agreed_with_an_operator_rings_that_operator_only(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    number = ANSWERS + "0025"
    floor = await make_campaign(db, [number], extensions=("106", "107"))
    async with db() as session:
        lead = await session.get(Lead, floor.leads[number])
        assert lead is not None
        lead.status, lead.last_result = "callback", "callback"
        lead.assigned_user_id = floor.operators["107"].id
        await session.commit()
    operator_phone("106", answer=False)  # the queue could pick it: the call would be lost
    operator_phone("107", ring_ms=200)
    customers(ring_ms=300, talk_ms=500)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await settled(db, floor.campaign_id, 1)
        (originate,) = originates(bytes(proxy.sent))

    assert "CALLCENTER_OPERATOR=PJSIP/op107" in originate["Variable"].split(";")
    (attempt,) = await attempts(db, floor.campaign_id)
    async with db() as session:
        call = await session.scalar(select(Call).where(Call.id == attempt.call_id))
    assert attempt.outcome == "answered"
    assert call is not None and call.answered_by_id == floor.operators["107"].id


async def test_preview_campaigns_are_never_dialled_by_the_engine(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    floor = await make_campaign(db, [ANSWERS + "0031", ANSWERS + "0032"], mode="preview")
    operator_phone("106", ring_ms=200)
    customers(ring_ms=300)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        await until(lambda: dialer.engine.rounds >= 10, 20, "ten rounds of the engine")
        actions = {a["Action"] for a in wire_actions(bytes(proxy.sent))}

    assert "Originate" not in actions and "QueueAdd" not in actions
    assert await attempts(db, floor.campaign_id) == []
    assert {lead.status for lead in (await leads_by_id(db, floor.campaign_id)).values()} == {"new"}


async def test_after_a_stop_no_originate_and_never_a_do_not_call_number_or_a_lead_twice(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(41, 51)]
    refused = numbers[-1]  # called last, put on the do-not-call list once dialling began
    floor = await make_campaign(db, numbers, extensions=("106", "107"), max_attempts=3)
    operator_phone("106", ring_ms=100)
    operator_phone("107", ring_ms=100)
    customers(ring_ms=300, talk_ms=700)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy):
        await until(lambda: len(originates(bytes(proxy.sent))) >= 1, 20, "the first Originate")
        async with db() as session:
            session.add(DoNotCall(e164=refused, source="api"))
            await session.commit()
        await until(lambda: len(originates(bytes(proxy.sent))) >= 4, 30, "four Originates")
        async with db() as session:
            await control.stop(session, floor.campaign_id, None)
            await session.commit()
        acknowledged = len(proxy.sent)
        await asyncio.sleep(4)  # operators free up, rounds go on: nothing may be dialled
        sent = bytes(proxy.sent)

    assert originates(sent[acknowledged:]) == []
    wire = originates(sent)
    assert refused not in {dialled_number(o) for o in wire}
    rows = await attempts(db, floor.campaign_id)
    assert sorted(o["ActionID"] for o in wire) == sorted(a.action_id for a in rows)
    assert Counter(o["ActionID"] for o in wire).most_common(1)[0][1] == 1
    for lead_id in floor.leads.values():
        assert max_overlap([a for a in rows if a.lead_id == lead_id]) <= 1
    leads = await leads_by_id(db, floor.campaign_id)
    assert not [lead for lead in leads.values() if lead.locked_by is not None]


async def test_a_restarted_engine_settles_what_was_in_flight_and_dials_each_lead_once(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(61, 65)]
    floor = await make_campaign(db, numbers, extensions=("106", "107"), max_attempts=3)
    operator_phone("106", ring_ms=100)
    operator_phone("107", ring_ms=100)
    customers(ring_ms=3000, talk_ms=500)

    async with (
        AmiProxy(asterisk_sandbox.ami_port) as proxy,
        running_dialer(db, proxy, start_engine=False) as dialer,
    ):
        async with engine_running(dialer.engine):
            await until(lambda: len(originates(bytes(proxy.sent))) >= 2, 20, "two Originates")
        first = {o["ActionID"] for o in originates(bytes(proxy.sent))}
        async with engine_running(dialer.new_engine()):
            await settled(db, floor.campaign_id, len(numbers))
        wire = originates(bytes(proxy.sent))

    rows = await attempts(db, floor.campaign_id)
    assert len(wire) == len({o["ActionID"] for o in wire}) == len(rows) == len(numbers)
    assert {a.outcome for a in rows if a.action_id in first} == {"unknown"}
    assert {a.outcome for a in rows if a.action_id not in first} == {"answered"}
    assert sorted(a.lead_id for a in rows) == sorted(floor.leads.values())  # once each
    leads = await leads_by_id(db, floor.campaign_id)
    unknown = {a.lead_id for a in rows if a.action_id in first}
    assert {leads[i].status for i in unknown} == {"unknown"}


async def test_calls_in_flight_at_an_ami_reconnect_end_unknown_and_are_not_redialled(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    floor = await make_campaign(db, [ANSWERS + "0071"], max_attempts=3)
    operator_phone("106", ring_ms=100)
    customers(ring_ms=3000, talk_ms=500)

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        await until(lambda: len(originates(bytes(proxy.sent))) == 1, 20, "the Originate")
        proxy.reset()
        await until(lambda: dialer.link.connections >= 2, 10, "the reconnect")
        await settled(db, floor.campaign_id, 1)
        rounds = dialer.engine.rounds
        await until(lambda: dialer.engine.rounds >= rounds + 10, 20, "ten more rounds")
        wire = originates(bytes(proxy.sent))

    (attempt,) = await attempts(db, floor.campaign_id)
    assert attempt.outcome == "unknown" and len(wire) == 1
    (lead,) = (await leads_by_id(db, floor.campaign_id)).values()
    assert (lead.status, lead.attempts) == ("unknown", 1)


def floor_number(leads: dict[str, int], lead_id: int) -> str:
    return next(number for number, id_ in leads.items() if id_ == lead_id)


def max_overlap(rows: list[CallAttempt]) -> int:
    """The most attempts in flight at one moment."""
    edges = sorted(
        [(a.originated_at, 1) for a in rows] + [(a.ended_at, -1) for a in rows if a.ended_at]
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most
