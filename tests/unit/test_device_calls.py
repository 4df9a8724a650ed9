"""DeviceCalls, told by the tracker fed recorded traces: what rings or talks on each phone."""

from __future__ import annotations

from callcenter.device_calls import DeviceCalls
from callcenter.tracker import CallTracker
from tests.unit.test_tracker import events

OP101, OP102 = "PJSIP/op101", "PJSIP/op102"


def states_after_each_event(name: str) -> list[dict[str, list[str]]]:
    """After every event of the trace: each phone's calls as ``state`` strings."""
    phones = DeviceCalls()
    tracker = CallTracker(phones)
    seen: list[dict[str, list[str]]] = []
    for event in events(name):
        tracker.handle(event)
        picture = {device: [held.state for held in phones.on(device)] for device in (OP101, OP102)}
        if not seen or picture != seen[-1]:
            seen.append(picture)
    return seen


def test_both_phones_ring_then_the_one_that_answers_talks_and_the_other_is_free() -> None:
    assert states_after_each_event("queue_ringall_one_answers") == [
        {OP101: [], OP102: []},
        {OP101: [], OP102: ["ringing"]},
        {OP101: ["ringing"], OP102: ["ringing"]},
        {OP101: [], OP102: ["talking"]},  # op102 answered
        {OP101: [], OP102: []},  # the call ended
    ]


def test_a_missed_call_leaves_no_ringing_behind() -> None:
    pictures = states_after_each_event("direct_dial_missed")
    assert {OP101: ["ringing"], OP102: []} in pictures
    assert pictures[-1] == {OP101: [], OP102: []}
