"""Calls cut from the trace recorded from the sandbox Asterisk, for the replay PBX.

The trace (``ami/traces/inbound_queue_calls.jsonl``) holds three queue calls, one
every 6 s, from 84951234567 "Ivan Petrov", 79161234567 and 84997654321 "Maria": each
rings op101 and op102 at once, op101 answers 2 s later, the talk lasts 3 s. A test
takes a call's frames up to a moment (still ringing, or talking) and may leave one
phone's frames out, so the call rings only the other one. A copy of a call gets ids of
its own (``-c<k>`` after every Uniqueid and Linkedid), so it is another call.
"""

from __future__ import annotations

import re

from ami.replay import RecordedEvent, default_trace, load_trace

ANSWERED_AFTER = 2.0  # seconds from the call's first frame until op101 answers
HUNG_UP_AFTER = 5.0
_LINKEDID = re.compile(r"^(?:Dest)?Linkedid: (\S+)", re.MULTILINE)
_IDS = re.compile(r"^((?:Dest)?(?:Uniqueid|Linkedid)): ([^\r\n]+)", re.MULTILINE)


def _calls() -> dict[str, list[RecordedEvent]]:
    calls: dict[str, list[RecordedEvent]] = {}
    for event in load_trace(default_trace()):
        found = _LINKEDID.search(event.frame)
        if found:  # frames of no call (device states) are left out
            calls.setdefault(found.group(1), []).append(event)
    return calls


_CALLS = _calls()
LINKEDIDS = list(_CALLS)


def call_frames(
    index: int, *, until: float, since: float = 0.0, without: str | None = None, copy: int = 0
) -> list[str]:
    """Frames of call ``index`` (0-2) from ``since`` to ``until`` seconds after its
    start; none that name the device ``without`` (``PJSIP/op102``): it was never rung.
    ``copy`` k > 0: the same call under ids of its own."""
    events = _CALLS[LINKEDIDS[index]]
    start = events[0].at
    frames = [event.frame for event in events if start + since <= event.at < start + until]
    if without is not None:
        frames = [frame for frame in frames if without not in frame]
    if copy:
        frames = [_IDS.sub(lambda m: f"{m.group(1)}: {m.group(2)}-c{copy}", f) for f in frames]
    return frames


def linkedid(index: int, copy: int = 0) -> str:
    return LINKEDIDS[index] + (f"-c{copy}" if copy else "")
