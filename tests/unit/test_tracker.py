"""callcenter.tracker driven by real AMI traces recorded from the sandbox Asterisk."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from ami.translate import translate
from callcenter.events import Event
from callcenter.tracker import CallTracker
from callcenter.tracking import TrackedCall
from tests.fixtures.ami import TRACES, load_messages

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass
class Recorder:
    log: list[tuple[str, str, str]] = field(default_factory=list)
    started: list[TrackedCall] = field(default_factory=list)
    ended: dict[str, TrackedCall] = field(default_factory=dict)

    def call_started(self, call: TrackedCall) -> None:
        self.started.append(call)
        self.log.append(("started", call.linkedid, ""))

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        assert device in call.ringing_devices
        self.log.append(("ringing", call.linkedid, device))

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        assert device not in call.ringing_devices
        self.log.append(("stopped", call.linkedid, device))

    def call_answered(self, call: TrackedCall, device: str) -> None:
        self.log.append(("answered", call.linkedid, device))

    def call_ended(self, call: TrackedCall) -> None:
        self.ended[call.linkedid] = call  # the latest snapshot wins, as in an upsert
        self.log.append(("ended", call.linkedid, ""))

    def calls(self) -> list[tuple[str, str]]:
        return [(kind, device) for kind, _, device in self.log]


def events(name: str) -> list[Event]:
    translated = (translate(m, NOW) for m in load_messages(name))
    return [e for e in translated if e is not None]


def replay(name: str, evs: list[Event] | None = None) -> tuple[Recorder, CallTracker]:
    recorder = Recorder()
    tracker = CallTracker(recorder)
    for event in events(name) if evs is None else evs:
        tracker.handle(event)
    return recorder, tracker


def only_call(name: str) -> tuple[Recorder, TrackedCall]:
    recorder, tracker = replay(name)
    assert len(recorder.started) == 1 and len(recorder.ended) == 1
    assert tracker.live_calls() == []
    return recorder, next(iter(recorder.ended.values()))


def kinds(call: TrackedCall) -> list[tuple[str, str | None]]:
    return [(leg.kind, leg.device) for leg in call.legs]


OP101, OP102, OP103 = "PJSIP/op101", "PJSIP/op102", "PJSIP/op103"


def test_queue_ringall_both_phones_answer_one_wins() -> None:
    recorder, call = only_call("queue_ringall_both_answer")
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP102),
        ("ringing", OP101),
        ("stopped", OP102),
        ("answered", OP101),
        ("ended", ""),
    ]
    assert (call.direction, call.caller_number, call.caller_name) == (
        "inbound",
        "84951234567",
        "Ivan Petrov",
    )
    assert (call.did, call.queue) == ("74951112233", "support")
    assert call.rang_devices == (OP102, OP101)
    assert call.answered_device == OP101 and call.result == "answered"
    assert call.wait_seconds and 0.9 < call.wait_seconds < 1.5
    assert call.talk_seconds and 2.5 < call.talk_seconds < 3.5
    assert call.hangup_cause == 16 and call.ringing_devices == ()
    assert kinds(call) == [("caller", "PJSIP/trunk"), ("agent", OP102), ("agent", OP101)]


def test_queue_ringall_one_operator_answers() -> None:
    recorder, call = only_call("queue_ringall_one_answers")
    assert ("stopped", OP101) in recorder.calls() and ("answered", OP102) in recorder.calls()
    assert call.caller_number == "+74957001122" and call.caller_name == "ООО Ромашка"
    assert call.answered_device == OP102 and call.result == "answered"
    assert set(call.rang_devices) == {OP101, OP102}


def test_queue_caller_abandons() -> None:
    recorder, call = only_call("queue_abandoned")
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP102),
        ("ringing", OP101),
        ("stopped", OP102),
        ("stopped", OP101),
        ("ended", ""),
    ]
    assert call.result == "abandoned" and call.queue == "support"
    assert call.answered_device is None and call.talk_seconds is None
    assert call.wait_seconds and 3.5 < call.wait_seconds < 4.5


def test_direct_dial_answered() -> None:
    recorder, call = only_call("direct_dial_101")
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP101),
        ("answered", OP101),
        ("ended", ""),
    ]
    assert (call.direction, call.did, call.queue, call.result) == (
        "inbound",
        "101",
        None,
        "answered",
    )
    assert call.caller_number == "84997654321" and call.caller_name == "Maria"


@pytest.mark.parametrize("name", ["direct_dial_missed", "direct_dial_unreachable"])
def test_nobody_answers_is_missed(name: str) -> None:
    recorder, call = only_call(name)
    device = call.rang_devices[0]
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", device),
        ("stopped", device),
        ("ended", ""),
    ]
    assert call.result == "missed" and call.answered_device is None
    assert call.wait_seconds and call.wait_seconds > 29


def test_ring_group() -> None:
    recorder, call = only_call("ring_group_200")
    assert recorder.calls()[-3:] == [("stopped", OP101), ("answered", OP102), ("ended", "")]
    assert call.rang_devices == (OP101, OP102) and call.did == "200"
    assert call.answered_device == OP102 and call.result == "answered"


def test_internal_call() -> None:
    _, call = only_call("internal_101_to_102")
    assert (call.direction, call.caller_number, call.answered_device) == ("internal", "101", OP102)
    assert call.rang_devices == (OP102,) and call.result == "answered"


def test_blind_transfer_keeps_one_call() -> None:
    recorder, call = only_call("blind_transfer")
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP101),
        ("answered", OP101),
        ("ringing", OP102),
        ("answered", OP102),
        ("ended", ""),
    ]
    assert call.answered_device == OP101 and call.rang_devices == (OP101, OP102)
    assert kinds(call) == [("caller", "PJSIP/trunk"), ("agent", OP101), ("transfer", OP102)]
    assert call.talk_seconds and call.talk_seconds > 7


def test_attended_transfer_keeps_one_call() -> None:
    """op101 consults op102 (AMI Atxfer), then hangs up: the customer talks to op102.

    Asterisk gives the consultation no Linkedid of its own: the Local channel the
    transfer dials is requested by op101's channel and inherits the customer's
    Linkedid, and so does op102's phone. The consultation is part of the
    customer's call, not a separate internal one.
    """
    recorder, call = only_call("attended_transfer")
    linkedids = {
        value
        for message in load_messages("attended_transfer")
        for key, value in message.items()
        if key.endswith("Linkedid")
    }
    assert linkedids == {call.linkedid}
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP101),
        ("answered", OP101),
        ("ringing", OP102),
        ("answered", OP102),
        ("ended", ""),
    ]
    assert (call.direction, call.caller_number, call.caller_name, call.did) == (
        "inbound",
        "84951112211",
        "Boris",
        "101",
    )
    assert call.answered_device == OP101 and call.rang_devices == (OP101, OP102)
    assert call.result == "answered" and call.hangup_cause == 16
    assert call.talk_seconds and call.talk_seconds > 10
    phones = [(leg.kind, leg.device) for leg in call.legs if leg.device is not None]
    assert phones == [("caller", "PJSIP/trunk"), ("agent", OP101), ("transfer", OP102)]
    consultation = [leg for leg in call.legs if leg.device is None]
    assert {leg.kind for leg in consultation} == {"other"}
    assert all(leg.channel.startswith("Local/102@operators-") for leg in consultation)
    # op101 leaves at the transfer; the customer stays with op102 until hanging up
    legs = {leg.device: leg for leg in call.legs}
    op101, op102, customer = legs[OP101], legs[OP102], legs["PJSIP/trunk"]
    assert op101.ended_at and op102.answered_at and op102.ended_at and customer.ended_at
    assert op102.answered_at < op101.ended_at
    assert (customer.ended_at - op101.ended_at).total_seconds() > 10
    assert abs((op102.ended_at - customer.ended_at).total_seconds()) < 0.1


def test_click_to_dial() -> None:
    recorder, call = only_call("click_to_dial")
    assert recorder.calls() == [
        ("started", ""),
        ("ringing", OP103),
        ("answered", OP103),
        ("ended", ""),
    ]
    assert (call.direction, call.caller_number, call.did) == ("outbound", "84951234567", None)
    assert call.answered_device == OP103 and call.result == "answered"
    assert kinds(call) == [("agent", OP103), ("outbound", "PJSIP/trunk")]
    assert call.talk_seconds and 2.5 < call.talk_seconds < 3.5


def test_dialer_call_carries_campaign_and_lead() -> None:
    _, call = only_call("dialer_call")
    assert call.direction == "outbound" and call.result == "answered"
    assert call.variables == {"CALLCENTER_CAMPAIGN": "7", "CALLCENTER_LEAD": "42"}
    assert call.caller_number == "84951234567"


def test_click_to_dial_busy() -> None:
    _, call = only_call("click_to_dial_busy")
    assert call.result == "busy" and call.hangup_cause == 17 and call.answered_device is None


def test_click_to_dial_operator_unreachable() -> None:
    _, call = only_call("click_to_dial_operator_unreachable")
    assert call.direction == "outbound" and call.result == "no_answer"
    assert call.rang_devices == ("PJSIP/op109",)


def test_lead_trace_three_queue_calls() -> None:
    recorder, _ = replay("inbound_queue_calls")
    assert len(recorder.started) == 3 and len(recorder.ended) == 3
    assert {c.caller_number for c in recorder.ended.values()} == {
        "84951234567",
        "79161234567",
        "84997654321",
    }
    assert all(
        c.result == "answered" and c.answered_device == OP101 for c in recorder.ended.values()
    )


def comparable(call: TrackedCall) -> tuple[object, ...]:
    return (
        call.direction,
        call.caller_number,
        call.did,
        call.queue,
        set(call.rang_devices),
        call.answered_device,
        call.result,
        call.started_at,
        call.ended_at,
        len(call.legs),
    )


def shuffled(evs: list[Event], seed: int, window: float = 2.0) -> list[Event]:
    """Every event twice, each copy moved by up to ``window`` seconds."""
    rng = random.Random(seed)
    doubled = [(e.at.timestamp() + rng.uniform(0, window), i, e) for i, e in enumerate(evs * 2)]
    return [e for _, _, e in sorted(doubled, key=lambda item: (item[0], item[1]))]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", TRACES)
def test_duplicated_and_shuffled_events_give_the_same_calls(name: str, seed: int) -> None:
    expected, _ = replay(name)
    got, tracker = replay(name, shuffled(events(name), seed))
    assert sorted(c.linkedid for c in got.started) == sorted(expected.ended)
    assert tracker.live_calls() == []
    for linkedid, call in expected.ended.items():
        assert comparable(got.ended[linkedid]) == comparable(call)


def test_late_events_of_an_ended_call_start_nothing() -> None:
    evs = events("direct_dial_101")
    recorder, tracker = replay("direct_dial_101")
    later = [replace(e, at=e.at + timedelta(minutes=5)) for e in evs]
    for event in later + evs:
        tracker.handle(event)
    assert len(recorder.started) == 1


def test_a_call_joined_mid_way_is_still_tracked() -> None:
    evs = events("queue_ringall_both_answer")
    answered = next(i for i, e in enumerate(evs) if type(e).__name__ == "AgentAnswered")
    recorder, _ = replay("queue_ringall_both_answer", evs[answered:])
    call = next(iter(recorder.ended.values()))
    assert call.answered_device == OP101 and call.result == "answered"
    assert call.caller_number == "84951234567" and call.queue == "support"


def test_reconcile_closes_calls_asterisk_no_longer_has() -> None:
    answered_call = events("direct_dial_101")
    ringing_call = events("queue_abandoned")
    cut_answered = next(
        i for i, e in enumerate(answered_call) if type(e).__name__ == "BridgeEntered"
    )
    cut_ringing = next(i for i, e in enumerate(ringing_call) if type(e).__name__ == "AgentRinging")
    recorder = Recorder()
    tracker = CallTracker(recorder)
    for event in answered_call[: cut_answered + 1] + ringing_call[: cut_ringing + 1]:
        tracker.handle(event)
    live = {c.linkedid: c for c in tracker.live_calls()}
    assert len(live) == 2 and not recorder.ended
    ringing_id = ringing_call[0].linkedid  # type: ignore[attr-defined]
    tracker.reconcile({ringing_id}, NOW)
    assert [c.linkedid for c in tracker.live_calls()] == [ringing_id]
    closed = recorder.ended[answered_call[0].linkedid]  # type: ignore[attr-defined]
    assert closed.result == "answered" and closed.ended_at == NOW
    tracker.reconcile(set(), NOW)
    unanswered = recorder.ended[ringing_id]
    assert unanswered.result == "unknown" and unanswered.ringing_devices == ()
    assert recorder.log[-2:] == [("stopped", ringing_id, OP102), ("ended", ringing_id, "")]
    assert tracker.live_calls() == []
    for event in ringing_call:  # the rest arrives after all: no second call
        tracker.handle(event)
    assert len(recorder.started) == 2
