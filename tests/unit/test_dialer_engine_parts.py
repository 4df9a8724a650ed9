"""The engine's pure parts: what a call's end means, the floor, queue members, the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ami.actions import UnsafeAmiValue
from ami.link import AmiLink
from ami.telephony import AmiTelephony
from callcenter.dialer_calls import dialer_call, originate_variables
from callcenter.telephony import CustomerCall, QueueMemberState, QueueReport
from callcenter.tracking import LegSnapshot, TrackedCall
from dialer.flights import FAILED_ORIGINATE_WAIT, Flight, outcome_of_call
from dialer.floor import floor_state
from dialer.queue_members import CampaignOperatorPhone, paused_elsewhere, wanted_members
from tests.unit.test_link import FakeAmi

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def dialer_snapshot(**changes: Any) -> TrackedCall:
    call = TrackedCall(
        linkedid="1.1",
        direction="outbound",
        started_at=T0,
        caller_number="74951000001",
        caller_name="",
        result="no_answer",
        ended_at=T0 + timedelta(seconds=5),
        legs=(LegSnapshot("1.1", "PJSIP/trunk-00000001", "PJSIP/trunk", "caller"),),
        variables={
            "CALLCENTER_CAMPAIGN": "3",
            "CALLCENTER_LEAD": "7",
            "CALLCENTER_ATTEMPT": "dial-7-ab",
        },
    )
    return replace(call, **changes)


def customer_answered() -> tuple[LegSnapshot, ...]:
    return (LegSnapshot("1.1", "PJSIP/trunk-1", "PJSIP/trunk", "caller", answered_at=T0),)


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"hangup_cause": 17}, "busy"),
        ({"hangup_cause": 19}, "no_answer"),
        ({"hangup_cause": 21}, "failed"),  # 603 Decline, 403 Forbidden
        ({"hangup_cause": 34}, "congestion"),
        ({"result": "busy"}, "busy"),  # no cause: the tracker's dial status
        ({"result": "unknown"}, "unknown"),  # closed by a resync
        ({"answered_device": "PJSIP/op106", "result": "answered"}, "answered"),
        ({"result": "abandoned", "legs": customer_answered(), "queue": "dialer"}, "abandoned"),
        ({"legs": customer_answered(), "queue": "dialer"}, "abandoned"),
        ({"legs": customer_answered()}, "no_answer"),  # hung up before the queue
    ],
)
def test_the_end_of_a_dialer_call_decides_its_outcome(
    changes: dict[str, Any], outcome: str
) -> None:
    assert outcome_of_call(dialer_snapshot(**changes)) == outcome


def test_the_dial_plan_s_verdict_wins() -> None:
    machine = dialer_snapshot(variables={"CALLCENTER_RESULT": "machine"}, legs=customer_answered())
    assert outcome_of_call(machine) == "machine"
    gave_up = dialer_snapshot(variables={"CALLCENTER_RESULT": "abandoned"}, hangup_cause=16)
    assert outcome_of_call(gave_up, answered=True) == "abandoned"


def flight(**changes: Any) -> Flight:
    return replace(Flight(1, "dial-7-ab", 3, 7, placed_at=100.0, ring_seconds=15), **changes)


def test_a_flight_waits_for_its_call_then_judges_it() -> None:
    assert flight().verdict(101) is None
    assert flight(ended=dialer_snapshot(hangup_cause=17)).verdict(101) == "busy"
    assert flight(lost=True, answered_at=101).verdict(102) == "unknown"


def test_an_originate_that_failed_without_a_channel_is_judged_by_its_reason() -> None:
    failed = flight(failed_reason=8, failed_at=101.0)
    assert failed.verdict(101.0 + FAILED_ORIGINATE_WAIT / 2) is None  # a hangup may follow
    assert failed.verdict(101.0 + FAILED_ORIGINATE_WAIT) == "congestion"
    assert flight(failed_reason=0, failed_at=101.0).verdict(200) == "failed"


def test_a_call_never_heard_of_after_its_ring_time_is_unknown() -> None:
    assert flight().verdict(100 + 15 + 30) is None
    assert flight().verdict(100 + 15 + 61) == "unknown"
    assert flight(answered_at=105.0).verdict(10_000) is None  # a long talk is fine


def member(device: str, **changes: Any) -> QueueMemberState:
    values: dict[str, Any] = {
        "queue": "dialer",
        "device": device,
        "name": device,
        "paused": False,
        "paused_reason": "",
        "in_call": False,
        "available": True,
        "calls_taken": 0,
        "penalty": 3,
    }
    return QueueMemberState(**(values | changes))


def test_the_floor_counts_ready_and_busy_operators_and_the_calls_in_flight() -> None:
    members = [
        member("PJSIP/op101"),
        member("PJSIP/op102", paused=True),
        member("PJSIP/op103", available=False),
        member("PJSIP/op104", in_call=True),
        member("PJSIP/op105"),  # free in the report, but our call reached it meanwhile
    ]
    busy_since: dict[str, float] = {"pjsip/op103": 50.0}
    flights = [
        flight(),
        flight(action_id="b", placed_at=90.0, answered_at=95.0),  # waiting for an operator
        flight(action_id="c", answered_at=95.0, connected_at=96.0),  # with an operator
    ]
    state = floor_state(120.0, members, flights, busy_since, {"pjsip/op105": 118.0})
    assert state.ready_operators == 1
    assert sorted(state.talking_since) == [50.0, 118.0, 120.0]
    assert state.ringing_since == [100.0]
    assert state.waiting_calls == 1
    assert busy_since == {"pjsip/op103": 50.0, "pjsip/op104": 120.0}


def test_an_operator_works_the_oldest_of_their_campaigns() -> None:
    phones = [
        CampaignOperatorPhone(5, 1, "PJSIP/op101"),
        CampaignOperatorPhone(4, 1, "PJSIP/op101"),
        CampaignOperatorPhone(5, 2, "PJSIP/op102"),
    ]
    wanted = wanted_members(phones)
    assert {device: phone.campaign_id for device, phone in wanted.items()} == {
        "pjsip/op101": 4,
        "pjsip/op102": 5,
    }


def test_a_new_member_is_paused_when_the_operator_is_paused_everywhere_else() -> None:
    report = QueueReport(
        (
            member("PJSIP/op101", queue="support", paused=True),
            member("PJSIP/op101", queue="sales", paused=True),
            member("PJSIP/op102", queue="support", paused=True),
            member("PJSIP/op102", queue="sales"),
        ),
        (),
    )
    assert paused_elsewhere(report, "pjsip/op101")
    assert not paused_elsewhere(report, "PJSIP/op102")
    assert not paused_elsewhere(report, "PJSIP/op103")  # in no other queue: ready


def test_the_variables_name_the_attempt_on_every_leg() -> None:
    variables = originate_variables(3, 7, "dial-7-ab")
    assert all(name.startswith("__CALLCENTER_") for name in variables)
    stripped = {name.lstrip("_"): value for name, value in variables.items()}
    found = dialer_call(stripped)
    assert found is not None and (found.campaign_id, found.lead_id) == (3, 7)
    assert dialer_call({"CALLCENTER_CAMPAIGN": "3", "CALLCENTER_LEAD": "x"}) is None
    assert dialer_call({"CALLCENTER_DID": "74951112233"}) is None


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeAmi, AmiTelephony]]:
    async with FakeAmi() as ami:
        link: AmiLink = ami.link()
        await link.start()
        await link.wait_connected(5)
        try:
            yield ami, AmiTelephony(link, originate_context="operators")
        finally:
            await link.stop()


def last(ami: FakeAmi, name: str) -> dict[str, str]:
    return [a for a in ami.actions if a.get("action", "").lower() == name.lower()][-1]


async def test_a_customer_call_rings_the_customer_first_under_the_attempt_s_action_id(
    wired: tuple[FakeAmi, AmiTelephony],
) -> None:
    ami, telephony = wired
    accepted = await telephony.call_customer(
        CustomerCall(
            number="+74951000001",
            request_id="dial-7-ab12",
            caller_id="Магазин <74950000000>",
            variables={"__CALLCENTER_LEAD": "7"},
        )
    )
    sent = last(ami, "Originate")
    assert accepted.request_id == sent["actionid"] == "dial-7-ab12"
    assert sent["channel"] == "PJSIP/74951000001@trunk"
    assert (sent["context"], sent["exten"], sent["priority"]) == ("dialer-auto", "74951000001", "1")
    assert (sent["async"], sent["timeout"]) == ("true", "25000")
    assert sent["variable"] == "__CALLCENTER_LEAD=7"


@pytest.mark.parametrize(
    "call",
    [
        CustomerCall(number="7495\r\nAction: Command", request_id="dial-1-a"),
        CustomerCall(number="74951000001@evil", request_id="dial-1-a"),
        CustomerCall(number="74951000001", request_id="dial 1\r\n"),
        CustomerCall(number="74951000001", request_id="dial-1-a", ring_seconds=10),  # < 15 s
        CustomerCall(number="74951000001", request_id="dial-1-a", variables={"X": "a,b"}),
    ],
)
async def test_a_customer_call_with_an_unsafe_value_never_reaches_the_wire(
    call: CustomerCall, wired: tuple[FakeAmi, AmiTelephony]
) -> None:
    ami, telephony = wired
    with pytest.raises(UnsafeAmiValue):
        await telephony.call_customer(call)
    assert ami.count("Originate") == 0


async def test_queue_members_are_added_removed_and_re_penalised_checked(
    wired: tuple[FakeAmi, AmiTelephony],
) -> None:
    ami, telephony = wired
    await telephony.queue_add("dialer", "op101", penalty=4, paused=True, member_name="op101")
    added = last(ami, "QueueAdd")
    assert (added["queue"], added["interface"], added["penalty"]) == ("dialer", "PJSIP/op101", "4")
    assert (added["paused"], added["membername"]) == ("true", "op101")
    await telephony.queue_penalty("dialer", "op101", 5)
    assert last(ami, "QueuePenalty")["penalty"] == "5"
    await telephony.queue_remove("dialer", "op101")
    assert last(ami, "QueueRemove")["interface"] == "PJSIP/op101"
    for bad in (
        telephony.queue_add("dialer", "op101&op102", penalty=1, paused=False),
        telephony.queue_add("dialer", "op101", penalty=-1, paused=False),
        telephony.queue_penalty("dialer\r\n", "op101", 1),
    ):
        with pytest.raises(UnsafeAmiValue):
            await bad
    assert ami.count("QueueAdd") == 1
