"""ami.translate: AMI messages -> typed events; never raises."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from ami.translate import device_of, translate
from callcenter.events import (
    AgentAnswered,
    AgentCompleted,
    BlindTransferred,
    ChannelCreated,
    ChannelHungUp,
    DialStarted,
    OriginateFinished,
    QueueCallerAbandoned,
    VariableSet,
)
from tests.fixtures.ami import TRACES, load_frames, load_messages

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def first(name: str, event: str) -> dict[str, str | list[str]]:
    return next(m for m in load_messages(name) if m["Event"] == event)


def test_devices_of_channels() -> None:
    assert device_of("PJSIP/op101-0000001a") == "PJSIP/op101"
    assert device_of("PJSIP/op-101-0000001a") == "PJSIP/op-101"
    assert device_of("SIP/101-0a1b2c3d") == "SIP/101"
    assert device_of("IAX2/peer-1234") == "IAX2/peer"
    assert device_of("PJSIP/op101-0000001a<ZOMBIE>") == "PJSIP/op101"
    assert device_of("Local/102@operators-00000001;1") is None
    assert device_of("") is None
    assert device_of("garbage") is None


def test_new_channel_carries_the_callers_number_and_pbx_time() -> None:
    event = translate(first("direct_dial_101", "Newchannel"), NOW)
    assert isinstance(event, ChannelCreated)
    assert event.channel.device == "PJSIP/trunk"
    assert event.channel.number == "84997654321"
    assert event.channel.caller_name == "Maria"
    assert event.channel.state == "ring"
    assert event.channel.exten == "101"
    assert event.linkedid == event.channel.uniqueid
    assert event.at != NOW and event.at.tzinfo is UTC


def test_missing_timestamp_falls_back_to_received_at() -> None:
    message = dict(first("direct_dial_101", "Newchannel"))
    del message["Timestamp"]
    event = translate(message, NOW)
    assert event is not None and event.at == NOW
    message["Timestamp"] = "not a number"
    assert translate(message, NOW).at == NOW  # type: ignore[union-attr]


def test_panoramisk_messages_and_lowercase_dicts_are_accepted() -> None:
    for _, frame in load_frames("queue_ringall_both_answer"):
        raw = Message.from_line(frame)
        plain = translate(raw, NOW)
        assert plain == translate({k.lower(): v for k, v in raw.items()}, NOW)
    connect = translate(Message.from_line(_frame("queue_ringall_both_answer", "AgentConnect")), NOW)
    assert isinstance(connect, AgentAnswered)
    assert connect.device == "PJSIP/op101" and connect.queue == "support"


def _frame(name: str, event: str) -> str:
    return next(f for _, f in load_frames(name) if f.startswith(f"Event: {event}\r\n"))


def test_repeated_headers_take_the_first_value() -> None:
    # panoramisk turns a repeated header into a list
    message = first("queue_ringall_both_answer", "AgentComplete")
    message["Reason"] = ["caller", "agent"]
    event = translate(message, NOW)
    assert isinstance(event, AgentCompleted)
    assert event.reason == "caller" and event.talk_seconds == 3


def test_originate_dial_has_no_calling_channel() -> None:
    event = translate(first("click_to_dial", "DialBegin"), NOW)
    assert isinstance(event, DialStarted)
    assert event.caller is None
    assert event.target.device == "PJSIP/op103"


def test_originate_failure_has_no_channel() -> None:
    event = translate(first("click_to_dial_operator_unreachable", "OriginateResponse"), NOW)
    assert isinstance(event, OriginateFinished)
    assert not event.success and event.reason == 3 and event.uniqueid == ""
    assert event.action_id == "cc-trace-originate-op109"


def test_only_callcenter_variables_are_kept() -> None:
    events = [translate(m, NOW) for m in load_messages("dialer_call") if m["Event"] == "VarSet"]
    names = {e.name: e.value for e in events if isinstance(e, VariableSet)}
    assert names == {"CALLCENTER_CAMPAIGN": "7", "CALLCENTER_LEAD": "42"}
    varsets = [m for m in load_messages("direct_dial_101") if m["Event"] == "VarSet"]
    did = translate(next(m for m in varsets if m["Variable"] == "__CALLCENTER_DID"), NOW)
    assert isinstance(did, VariableSet) and did.name == "CALLCENTER_DID"


def test_hangup_abandon_and_transfer() -> None:
    hangup = translate(first("click_to_dial_busy", "Hangup"), NOW)
    assert isinstance(hangup, ChannelHungUp) and hangup.cause == 17
    abandon = translate(first("queue_abandoned", "QueueCallerAbandon"), NOW)
    assert isinstance(abandon, QueueCallerAbandoned) and abandon.hold_seconds == 4
    blind = translate(first("blind_transfer", "BlindTransfer"), NOW)
    assert isinstance(blind, BlindTransferred) and blind.success and blind.exten == "102"
    assert blind.transferer is not None and blind.transferer.device == "PJSIP/op101"


def test_every_recorded_frame_translates_without_error() -> None:
    for name in TRACES:
        for message in load_messages(name):
            translate(message, NOW)


def test_unknown_and_broken_messages_are_none() -> None:
    assert translate({"Event": "Newexten", "Channel": "PJSIP/x-1"}, NOW) is None
    assert translate({}, NOW) is None
    assert translate({"Event": "Newchannel"}, NOW) is None
    assert translate({"Event": ["Hangup", "Hangup"], "Linkedid": 5}, NOW) is None  # type: ignore[dict-item]
    assert translate({"Event": "Newchannel", "Timestamp": "1e400"}, NOW) is None


_text = st.text(max_size=40) | st.sampled_from(["", "<unknown>", "1e999", "nan", "-1", "9" * 5000])
_keys = st.sampled_from(
    [
        "Event", "Channel", "Uniqueid", "Linkedid", "Timestamp", "DestChannel", "DestUniqueid",
        "DestLinkedid", "Cause", "Queue", "Interface", "Variable", "Value", "DialStatus",
        "ChannelState", "HoldTime", "Response", "Reason", "TransfererLinkedid", "event",
    ]
) | st.text(max_size=10)  # fmt: skip
_events = st.sampled_from(
    [
        "Newchannel", "Newstate", "Hangup", "DialBegin", "DialEnd", "QueueCallerJoin",
        "QueueCallerAbandon", "AgentCalled", "AgentConnect", "AgentComplete", "BridgeEnter",
        "BlindTransfer", "AttendedTransfer", "VarSet", "OriginateResponse", "QueueMemberStatus",
        "QueueMemberPause", "FullyBooted", "Unknown",
    ]
)  # fmt: skip
_values = _text | st.lists(_text, max_size=3) | st.integers() | st.none()


@settings(max_examples=400, deadline=None)
@given(event=_events, headers=st.dictionaries(_keys, _values, max_size=25))
def test_fuzzed_messages_never_raise(event: str, headers: dict[str, object]) -> None:
    headers["Event"] = event
    translate(headers, NOW)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.text(max_size=60) | st.sampled_from(["Event: Hangup", "Linkedid: 1"])),
    huge=st.integers(0, 200_000),
)
def test_fuzzed_raw_frames_never_raise(lines: list[str], huge: int) -> None:
    # frames with missing colons, duplicated keys and one huge value, through panoramisk too
    frame = "\r\n".join(["Event: Newchannel", *lines, "Channel: PJSIP/a-1", "X: " + "v" * huge])
    message = Message.from_line(frame)
    if message is not None:
        translate(message, NOW)
    from tests.fixtures.ami import parse_frame

    translate(parse_frame(frame), NOW)
