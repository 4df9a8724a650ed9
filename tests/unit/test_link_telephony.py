"""AmiTelephony: what reaches the wire for originate, queue pause and queue status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami.actions import UnsafeAmiValue, safe_action
from ami.link import AmiLink
from ami.telephony import AmiTelephony, queue_report
from callcenter.settings import Secret
from callcenter.telephony import OriginateRequest, Telephony, TelephonyError
from tests.unit.test_link import FakeAmi


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeAmi, AmiLink, AmiTelephony]]:
    async with FakeAmi() as ami:
        link = ami.link()
        await link.start()
        await link.wait_connected(5)
        try:
            yield ami, link, AmiTelephony(link, originate_context="operators")
        finally:
            await link.stop()


def last(ami: FakeAmi, name: str) -> dict[str, str]:
    return [a for a in ami.actions if a.get("action", "").lower() == name.lower()][-1]


async def test_originate_uses_server_side_channel_and_context(
    wired: tuple[FakeAmi, AmiLink, AmiTelephony],
) -> None:
    ami, _, telephony = wired
    accepted = await telephony.originate(
        OriginateRequest(
            endpoint="op101",
            number="+74951234567",
            caller_id="Кампания <74950000000>",
            variables={"CALLCENTER_LEAD": "42"},
        )
    )
    sent = last(ami, "Originate")
    assert sent["actionid"] == accepted.request_id
    assert sent["channel"] == "PJSIP/op101"
    assert sent["context"] == "operators"
    assert sent["exten"] == "74951234567"
    assert sent["async"] == "true"
    assert sent["variable"] == "CALLCENTER_LEAD=42"
    assert sent["callerid"] == "Кампания <74950000000>"


async def test_originate_returns_when_queued_and_the_outcome_comes_as_an_event(
    wired: tuple[FakeAmi, AmiLink, AmiTelephony],
) -> None:
    ami, link, telephony = wired
    accepted = await asyncio.wait_for(
        telephony.originate(OriginateRequest(endpoint="op101", number="89161234567")), 2
    )
    ami.push([("Event", "OriginateResponse"), ("ActionID", accepted.request_id), ("Reason", "4")])
    async for message in link.events():
        if message.get("Event") == "OriginateResponse":
            assert message.get("ActionID") == accepted.request_id
            break


async def test_a_refused_originate_raises(wired: tuple[FakeAmi, AmiLink, AmiTelephony]) -> None:
    ami, link, _ = wired
    telephony = AmiTelephony(link, originate_context="operators")
    ami.hold = {"originate"}

    async def refuse() -> None:
        await asyncio.sleep(0.05)
        ami.push([("Response", "Error"), ("ActionID", last(ami, "Originate")["actionid"]),
                  ("Message", "Originate failed")])  # fmt: skip

    refuser = asyncio.create_task(refuse())
    with pytest.raises(TelephonyError, match="Originate failed"):
        await telephony.originate(OriginateRequest(endpoint="op101", number="89161234567"))
    await refuser


@pytest.mark.parametrize(
    "request_",
    [
        OriginateRequest(endpoint="op101/../x", number="100"),
        OriginateRequest(endpoint="op101\n", number="100"),
        OriginateRequest(endpoint="op101", number="100\r\nAction: Command"),
        OriginateRequest(endpoint="op101", number="8 916"),
        OriginateRequest(endpoint="op101", number="100@other-context"),
        OriginateRequest(endpoint="op101", number="100", caller_id='"x" <1>\n'),
        OriginateRequest(endpoint="op101", number="100", variables={"A": "1,SHELL(id)=x"}),
        OriginateRequest(endpoint="op101", number="100", variables={"A": "${SHELL(id)}"}),
        OriginateRequest(endpoint="op101", number="100", variables={"A(x)": "1"}),
        OriginateRequest(endpoint="op101", number="100", timeout_seconds=0),
    ],
)
async def test_unsafe_originate_requests_never_reach_the_wire(
    request_: OriginateRequest, wired: tuple[FakeAmi, AmiLink, AmiTelephony]
) -> None:
    ami, _, telephony = wired
    with pytest.raises(UnsafeAmiValue):
        await telephony.originate(request_)
    assert ami.count("Originate") == 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.text(max_size=20),
    number=st.text(max_size=20),
    caller_id=st.text(max_size=40),
    value=st.text(max_size=20),
)
def test_whatever_is_accepted_is_one_action_with_our_channel_and_context(
    endpoint: str, number: str, caller_id: str, value: str
) -> None:
    sent: list[dict[str, str | list[str]]] = []

    class Recorder(AmiLink):
        async def send(self, fields: Mapping[str, object], **_: object) -> object:
            sent.append(safe_action(fields))
            return _Ok()

    telephony = AmiTelephony(Recorder("h", 1, "u", Secret("p")), originate_context="operators")
    request = OriginateRequest(endpoint, number, caller_id, {"CALLCENTER_X": value})
    try:
        asyncio.run(telephony.originate(request))
    except UnsafeAmiValue:
        return
    [fields] = sent
    assert fields["Channel"] == f"PJSIP/{endpoint}" and "/" not in endpoint
    assert fields["Context"] == "operators"
    assert str(fields["Exten"]).isdigit()
    assert not any(c in value for c in ",;$(){}\"'\\")


class _Ok:
    success = True


async def test_queue_pause_sends_the_operator_device(
    wired: tuple[FakeAmi, AmiLink, AmiTelephony],
) -> None:
    ami, _, telephony = wired
    await telephony.queue_pause("op102", True, "Обед", queue="support")
    sent = last(ami, "QueuePause")
    assert (sent["interface"], sent["paused"], sent["reason"], sent["queue"]) == (
        "PJSIP/op102", "true", "Обед", "support"
    )  # fmt: skip
    await telephony.queue_pause("op102", False)
    sent = last(ami, "QueuePause")
    assert sent["paused"] == "false" and "reason" not in sent and "queue" not in sent


@pytest.mark.parametrize(
    ("endpoint", "reason", "queue"),
    [("op1\r\n", "", None), ("op1", "a|b", None), ("op1", "x\nAction: Hangup", None),
     ("op1", "", "support,sales")],
)  # fmt: skip
async def test_queue_pause_refuses_unsafe_values(
    endpoint: str, reason: str, queue: str | None, wired: tuple[FakeAmi, AmiLink, AmiTelephony]
) -> None:
    ami, _, telephony = wired
    with pytest.raises(UnsafeAmiValue):
        await telephony.queue_pause(endpoint, True, reason, queue=queue)
    assert ami.count("QueuePause") == 0


async def test_queue_status_is_typed(wired: tuple[FakeAmi, AmiLink, AmiTelephony]) -> None:
    _, _, telephony = wired
    report = await telephony.queue_status()
    assert [m.queue for m in report.members] == ["support"]
    assert [c.position for c in report.callers] == [1]


def test_queue_report_reads_members_and_callers() -> None:
    report = queue_report(
        [
            {"Event": "QueueMember", "Queue": "support", "StateInterface": "PJSIP/op101",
             "Name": "op101", "Paused": "1", "PausedReason": "Обед", "InCall": "0",
             "Status": "1", "CallsTaken": "7"},
            {"Event": "QueueEntry", "Queue": "support", "Position": "2", "Wait": "31",
             "CallerIDNum": "84951234567", "CallerIDName": "Иван", "Uniqueid": "17.3"},
            {"Event": "QueueParams", "Queue": "support"},
        ]
    )  # fmt: skip
    [member] = report.members
    assert member.device == "PJSIP/op101" and member.paused and member.paused_reason == "Обед"
    assert member.available and not member.in_call and member.calls_taken == 7
    [caller] = report.callers
    assert (caller.position, caller.wait_seconds, caller.caller_number) == (2, 31, "84951234567")
    assert caller.call_id == "17.3"


def test_ami_telephony_is_a_telephony() -> None:
    telephony: Telephony = AmiTelephony(
        AmiLink("127.0.0.1", 1, "u", Secret("p")),
        originate_context="operators",
    )
    assert telephony.state == "connecting"


def test_server_side_settings_are_checked_too() -> None:
    link = AmiLink("127.0.0.1", 1, "u", Secret("p"))
    with pytest.raises(UnsafeAmiValue):
        AmiTelephony(link, originate_context="operators\r\nAction: Command")
    with pytest.raises(UnsafeAmiValue):
        AmiTelephony(link, originate_context="operators", technology="PJSIP/evil")


@pytest.mark.parametrize(
    "fields",
    [
        {"Action": "Command", "Command": "core restart now"},
        {"Action": "updateconfig"},
        {"Action": "Originate", "Channel": "Local/1@x", "Application": "System", "Data": "id"},
        {"Action": "Originate", "Channel": "Local/1@x", "application": "TrySystem"},
        {"Action": "Ping", "Foo\n": "x"},
    ],
)
def test_dangerous_actions_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(UnsafeAmiValue):
        safe_action(fields)


def test_chanspy_originate_is_allowed() -> None:
    fields = {"Action": "Originate", "Channel": "PJSIP/op105", "Application": "ChanSpy"}
    assert safe_action(fields)["Application"] == "ChanSpy"
