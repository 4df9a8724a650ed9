"""AMI events per second through parse -> translate -> call tracker, on one core.

Replays the recorded sandbox traces (tests/fixtures/ami/*.jsonl and
ami/traces/), looped until about ``--events`` events with call ids and
timestamps renamed each round so every round is new calls. Prints the median of
``--runs`` runs for: panoramisk's parser alone (``Message.from_line``), the
translator and tracker on parsed messages, and the whole pipeline.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from ami.translate import translate
from callcenter.tracker import CallTracker
from callcenter.tracking import TrackedCall

REPO = Path(__file__).resolve().parents[1]
TRACE_GLOBS = ("tests/fixtures/ami/*.jsonl", "ami/traces/*.jsonl")
_ID = re.compile(r"^(\w*(?:Uniqueid|Linkedid)): ([^\r\n]+)", re.MULTILINE)
_TIME = re.compile(r"^Timestamp: ([0-9.]+)", re.MULTILINE)


class _Quiet:
    def call_started(self, call: TrackedCall) -> None: ...
    def device_ringing(self, call: TrackedCall, device: str) -> None: ...
    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None: ...
    def call_answered(self, call: TrackedCall, device: str) -> None: ...
    def call_ended(self, call: TrackedCall) -> None: ...


def load_frames() -> list[str]:
    frames: list[str] = []
    for pattern in TRACE_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    frames.append(json.loads(line)["frame"])
    return frames


def rounds(frames: list[str], events: int) -> list[str]:
    """``frames`` repeated to about ``events``, ids and times moved on every round."""
    out: list[str] = []
    round_no = 0
    while len(out) < events:
        shift = round_no * 3600.0

        def new_time(m: re.Match[str], shift: float = shift) -> str:
            return f"Timestamp: {float(m.group(1)) + shift:.6f}"

        def new_id(m: re.Match[str], suffix: str = f"-r{round_no}") -> str:
            return f"{m.group(1)}: {m.group(2)}{suffix}"

        for frame in frames:
            if round_no:
                frame = _ID.sub(new_id, frame)
                frame = _TIME.sub(new_time, frame)
            out.append(frame)
        round_no += 1
    return out[:events]


def _rate(step: Callable[[], None], count: int) -> float:
    gc.collect()
    started = time.perf_counter()
    step()
    return count / (time.perf_counter() - started)


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench ami_throughput")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    frames = rounds(load_frames(), args.events)
    messages = [Message.from_line(f) for f in frames]
    received = datetime.now(UTC)
    tracked: list[int] = []

    def parse_only() -> None:
        for frame in frames:
            Message.from_line(frame)

    def translate_and_track() -> None:
        tracker = CallTracker(_Quiet())
        handle = tracker.handle
        for message in messages:
            event = translate(message, received)
            if event is not None:
                handle(event)
        tracked.append(len(tracker.live_calls()))

    def pipeline() -> None:
        tracker = CallTracker(_Quiet())
        handle = tracker.handle
        for frame in frames:
            event = translate(Message.from_line(frame), received)
            if event is not None:
                handle(event)

    results: dict[str, list[float]] = {"parse": [], "translate_track": [], "pipeline": []}
    for _ in range(args.runs):
        results["parse"].append(_rate(parse_only, len(frames)))
        results["translate_track"].append(_rate(translate_and_track, len(frames)))
        results["pipeline"].append(_rate(pipeline, len(frames)))
    medians = {k: round(statistics.median(v)) for k, v in results.items()}
    relevant = sum(1 for m in messages if translate(m, received) is not None)
    return {
        "parameters": {"events": len(frames), "runs": args.runs},
        "panoramisk_parse_events_per_s": medians["parse"],
        "translate_and_track_events_per_s": medians["translate_track"],
        "pipeline_events_per_s": medians["pipeline"],
        "share_of_events_translated": round(relevant / len(frames), 3),
        "calls_left_open": tracked[-1] if tracked else None,
        "target_events_per_s": 30_000,
    }
