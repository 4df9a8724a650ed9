"""A busy floor's AMI traffic made of the calls recorded from the sandbox Asterisk.

Every recorded trace (``tests/fixtures/ami``) is one or a few real calls. Copy k of a
trace gets its own ids (every ``...Uniqueid``/``...Linkedid`` header, bridges too,
ends in ``-c<k>``); copies start one after another and overlap as calls on a floor
do; the merged stream is then paced evenly at ``rate`` events a second, each frame's
``Timestamp`` the moment it is sent, so PBX time runs on as it would.

Only the frames the product reads are kept (those the translator turns into an
event): Newexten, RTCP and the like cost the reader nothing worth measuring, and
without them 10,000 events are about 400 calls rather than 100.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ami.translate import translate
from callcenter.tracker import CallTracker
from callcenter.tracking import Result, TrackedCall
from tests.fixtures.ami import TRACES, load_frames, parse_frame

# frames end their lines in CRLF: no ``$``, which would not match before the CR
_ID = re.compile(r"^(\w*(?:Uniqueid|Linkedid)): ([^\r\n]+)", re.MULTILINE)
_TIMESTAMP = re.compile(r"^Timestamp: [0-9.]+", re.MULTILINE)
PBX_EPOCH = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp()
_NOW = datetime(2026, 11, 23, tzinfo=UTC)


@dataclass(frozen=True)
class Stream:
    frames: list[tuple[float, str]]  # (seconds from the start, raw frame)
    results: dict[str, Result]
    """Each call's result, by linkedid: what its recording alone gives."""
    final: dict[str, TrackedCall]
    """The tracker's last snapshot of each call in this stream: what its row must end as."""

    def write_trace(self, path: Path) -> Path:
        """As ``ami.replay`` reads a recorded trace."""
        with path.open("w", encoding="utf-8") as out:
            for at, frame in self.frames:
                out.write(json.dumps({"t": at, "frame": frame}) + "\n")
        return path


def _call_events(name: str) -> list[tuple[float, str]]:
    return [(t, f) for t, f in load_frames(name) if translate(parse_frame(f), _NOW) is not None]


def floor_traffic(events: int, rate: float) -> Stream:
    """At least ``events`` frames of whole calls (none cut off), ``rate`` a second."""
    traces = [_call_events(name) for name in TRACES]
    alone = [_final_snapshots(frames) for frames in traces]
    per_copy = sum(len(t) for t in traces) / len(traces)
    spacing = per_copy / rate  # copies start this far apart: the stream keeps ``rate``
    scheduled: list[tuple[float, int, int, str]] = []
    results: dict[str, Result] = {}
    copy = 0
    while len(scheduled) < events:
        frames = traces[copy % len(traces)]
        results |= {f"{k}-c{copy}": c.result for k, c in alone[copy % len(traces)].items()}
        start = copy * spacing
        for n, (t, frame) in enumerate(frames):
            renamed = _ID.sub(lambda m, k=copy: f"{m.group(1)}: {m.group(2)}-c{k}", frame)
            scheduled.append((start + t, copy, n, renamed))
        copy += 1
    scheduled.sort()  # by time; a copy's own frames keep their order
    frames = []
    for i, (_, _, _, frame) in enumerate(scheduled):
        at = i / rate
        frames.append((at, _TIMESTAMP.sub(f"Timestamp: {PBX_EPOCH + at:.6f}", frame)))
    return Stream(frames, results, _final_snapshots(frames))


class _LastSnapshot:
    """An observer keeping each call's last snapshot: what its row must end as."""

    def __init__(self) -> None:
        self.calls: dict[str, TrackedCall] = {}

    def _keep(self, call: TrackedCall, *_: str) -> None:
        self.calls[call.linkedid] = call

    call_started = call_answered = call_ended = _keep
    device_ringing = device_stopped_ringing = _keep


def _final_snapshots(frames: list[tuple[float, str]]) -> dict[str, TrackedCall]:
    # the product's own tracker on the same stream, with no database in the way
    observer = _LastSnapshot()
    tracker = CallTracker(observer)
    for _, frame in frames:
        event = translate(parse_frame(frame), _NOW)
        if event is not None:
            tracker.handle(event)
    return observer.calls
