"""A call the tracker knows, answered while the AMI link was down: the resync says so.

Its DialEnd and BridgeEnter were lost with the link; without the resync's word the
call would end as "missed" although the operator talked to the caller (seen under
20 calls/s in tests/integration/test_ami_link_faults.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.events import ChannelCreated, ChannelHungUp, ChannelInfo, DialEnded, DialStarted
from callcenter.tracker import CallTracker
from tests.unit.test_tracker import Recorder

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINKEDID = "1700000000.1"
TRUNK = ChannelInfo("PJSIP/trunk-1", LINKEDID, "PJSIP/trunk", "84951234567", "Ivan", "101", "up")
PHONE = ChannelInfo("PJSIP/op101-2", "1700000000.2", "PJSIP/op101", "101", "", "s", "ringing")
UP = ChannelInfo(PHONE.name, PHONE.uniqueid, PHONE.device, PHONE.number, "", "s", "up")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ringing_call(tracker: CallTracker) -> None:
    tracker.handle(ChannelCreated(at(0), LINKEDID, TRUNK))
    tracker.handle(ChannelCreated(at(0.1), LINKEDID, PHONE))
    tracker.handle(DialStarted(at(0.1), LINKEDID, TRUNK, PHONE, "PJSIP/op101"))


def hang_up(tracker: CallTracker, seconds: float) -> None:
    tracker.handle(ChannelHungUp(at(seconds), LINKEDID, UP, 16, "Normal Clearing"))
    tracker.handle(ChannelHungUp(at(seconds), LINKEDID, TRUNK, 16, "Normal Clearing"))


def test_an_answer_lost_with_the_link_comes_from_the_resync() -> None:
    recorder = Recorder()
    tracker = CallTracker(recorder)
    ringing_call(tracker)
    # the link was down while op101 answered; the resync finds both channels up
    tracker.catch_up_answers([DialEnded(at(8), LINKEDID, TRUNK, UP, "answer")])
    hang_up(tracker, 20)
    call = recorder.ended[LINKEDID]
    assert call.result == "answered"
    assert (call.answered_device, call.answered_at) == ("PJSIP/op101", at(8))
    assert ("answered", LINKEDID, "PJSIP/op101") in recorder.log


def test_without_it_the_call_would_be_missed() -> None:
    recorder = Recorder()
    tracker = CallTracker(recorder)
    ringing_call(tracker)
    hang_up(tracker, 20)
    assert recorder.ended[LINKEDID].result == "missed"


def test_a_known_answer_keeps_its_time_and_unknown_calls_are_not_made_up() -> None:
    recorder = Recorder()
    tracker = CallTracker(recorder)
    ringing_call(tracker)
    tracker.handle(DialEnded(at(2), LINKEDID, TRUNK, UP, "answer"))
    other = ChannelInfo("PJSIP/trunk-9", "1700000009.1", "PJSIP/trunk", "8495", "", "101", "up")
    tracker.catch_up_answers(
        [
            DialEnded(at(8), LINKEDID, TRUNK, UP, "answer"),
            DialEnded(at(8), "1700000009.1", other, UP, "answer"),  # adoption's business
        ]
    )
    [call] = tracker.live_calls()
    assert call.answered_at == at(2)
    assert recorder.log.count(("answered", LINKEDID, "PJSIP/op101")) == 1
