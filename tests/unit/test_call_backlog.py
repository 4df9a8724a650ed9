"""The call log's backlog: bounded memory, a spill file read back in order, snapshots
that come back exactly as they went out."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.call_backlog import CallBacklog
from callcenter.call_snapshots import BadSnapshot, decode, encode
from callcenter.tracking import LegSnapshot, TrackedCall
from tests.fixtures.ami import TRACES
from tests.unit.test_tracker import replay

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def call(linkedid: str, minute: int = 0, **changes: object) -> TrackedCall:
    base = TrackedCall(
        linkedid=linkedid,
        direction="inbound",
        started_at=T0 + timedelta(minutes=minute),
        caller_number="84951234567",
        caller_name="Иван",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def drain(backlog: CallBacklog) -> list[TrackedCall]:
    """What a writer whose every write succeeds would write, in order."""
    written = []
    while (head := backlog.next()) is not None:
        written.append(head)
        backlog.done(head)
    return written


# ------------------------------------------------------------------ snapshots


def test_every_recorded_calls_final_snapshot_round_trips() -> None:
    for name in TRACES:
        recorder, _ = replay(name)
        for snapshot in recorder.ended.values():
            assert decode(encode(snapshot)) == snapshot


times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(-timedelta(hours=5))]),
)
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]))
legs = st.builds(
    LegSnapshot,
    uniqueid=texts,
    channel=texts,
    device=st.none() | texts,
    rang_at=st.none() | times,
    answered_at=st.none() | times,
    ended_at=st.none() | times,
    hangup_cause=st.none() | st.integers(0, 127),
)
# st.builds fills every field it is not told about from the type hints: a field added
# to TrackedCall or LegSnapshot that the codec forgets fails here
calls = st.builds(
    TrackedCall,
    linkedid=texts,
    started_at=times,
    caller_number=texts,
    caller_name=texts,
    did=st.none() | texts,
    queue=st.none() | texts,
    rang_devices=st.lists(texts).map(tuple),
    ringing_devices=st.lists(texts).map(tuple),
    answered_device=st.none() | texts,
    answered_at=st.none() | times,
    ended_at=st.none() | times,
    hangup_cause=st.none() | st.integers(0, 127),
    legs=st.lists(legs, max_size=4).map(tuple),
    variables=st.dictionaries(texts, texts, max_size=3),
)


@given(calls)
def test_any_snapshot_comes_back_exactly(snapshot: TrackedCall) -> None:
    line = encode(snapshot)
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # one line, whatever the names
    back = decode(line)
    assert back == snapshot
    assert [t.utcoffset() if t else None for t in (back.started_at, back.ended_at)] == [
        t.utcoffset() if t else None for t in (snapshot.started_at, snapshot.ended_at)
    ]


@pytest.mark.parametrize(
    "line", [b"", b"{", b'{"linkedid":"1.1","direction":"inbound"}\n', b"[1, 2]\n", b"\xff\n"]
)
def test_a_line_that_is_no_snapshot_says_so(line: bytes) -> None:
    with pytest.raises(BadSnapshot):
        decode(line)


# ------------------------------------------------------------------ memory and disk


def test_memory_keeps_only_the_newest_snapshot_of_each_call() -> None:
    backlog = CallBacklog(None)
    first, later, other = call("1.1"), call("1.1", result="answered"), call("2.2")
    for snapshot in (first, other, later):
        backlog.put(snapshot)
    assert drain(backlog) == [other, later]  # in order of their last change


def test_beyond_the_limit_the_oldest_changes_spill_and_come_back_first(tmp_path: Path) -> None:
    spill = tmp_path / "backlog" / "calls.jsonl"
    backlog = CallBacklog(spill, memory_limit=3)
    snapshots = [call(f"{n}.0", n) for n in range(10)]
    for snapshot in snapshots:
        backlog.put(snapshot)
        assert backlog.in_memory <= 3
    assert backlog.peak_in_memory == 3
    assert backlog.spilled == 7 and backlog.on_disk == 7 and len(backlog) == 10
    assert len(spill.read_bytes().splitlines()) == 7
    assert drain(backlog) == snapshots
    assert not spill.exists()  # read back and removed
    assert len(backlog) == 0


def test_a_call_that_changed_after_it_spilled_is_written_once_newest(tmp_path: Path) -> None:
    backlog = CallBacklog(tmp_path / "calls.jsonl", memory_limit=2)
    old = call("1.1")
    backlog.put(old)
    backlog.put(call("2.2"))
    backlog.put(call("3.3"))  # 1.1 spills
    newest = call("1.1", result="answered", ended_at=T0 + timedelta(minutes=3))
    backlog.put(newest)  # 2.2 spills; 1.1's newest is in memory
    written = drain(backlog)
    assert [c.linkedid for c in written] == ["2.2", "3.3", "1.1"]
    assert written[-1] == newest and old not in written


def test_a_call_spilled_twice_is_written_in_the_order_it_changed(tmp_path: Path) -> None:
    backlog = CallBacklog(tmp_path / "calls.jsonl", memory_limit=1)
    ringing = call("1.1", ringing_devices=("PJSIP/op101",))
    answered = call("1.1", answered_device="PJSIP/op101", answered_at=T0)
    for snapshot in (ringing, call("2.2"), answered, call("3.3")):
        backlog.put(snapshot)  # each put spills the one before
    written = drain(backlog)
    assert [c.linkedid for c in written] == ["1.1", "2.2", "1.1", "3.3"]
    assert written[0] == ringing and written[2] == answered


def test_a_failed_write_keeps_its_place_and_newer_changes_wait_behind_it(
    tmp_path: Path,
) -> None:
    backlog = CallBacklog(tmp_path / "calls.jsonl", memory_limit=2)
    for n in range(4):
        backlog.put(call(f"{n}.0"))
    head = backlog.next()
    assert head is not None and head.linkedid == "0.0"  # from disk
    # the write fails: nothing is done; meanwhile the same call changes again
    newer = call("0.0", result="abandoned", ended_at=T0)
    backlog.put(newer)
    assert backlog.next() is head  # still first: the older snapshot goes before
    written = drain(backlog)
    assert [c.linkedid for c in written] == ["0.0", "1.0", "2.0", "3.0", "0.0"]
    assert written[-1] == newer


def test_a_snapshot_in_memory_replaced_while_being_written_is_written_again() -> None:
    backlog = CallBacklog(None)
    backlog.put(call("1.1"))
    head = backlog.next()
    assert head is not None
    newer = call("1.1", result="answered")
    backlog.put(newer)  # arrives while the write of ``head`` is in flight
    backlog.done(head)
    assert drain(backlog) == [newer]


def test_writing_goes_on_while_calls_keep_spilling(tmp_path: Path) -> None:
    spill = tmp_path / "calls.jsonl"
    backlog = CallBacklog(spill, memory_limit=5)
    sent = [call(f"{n}.0", n) for n in range(100)]
    written = []
    for n, snapshot in enumerate(sent):
        backlog.put(snapshot)
        if n % 3 == 0:  # the writer manages one for every three the floor makes
            head = backlog.next()
            assert head is not None
            written.append(head)
            backlog.done(head)
    written += drain(backlog)
    assert written == sent
    assert backlog.spilled > 50 and backlog.peak_in_memory == 5
    assert not spill.exists()


def test_spilling_and_catching_up_are_logged_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "callcenter.call_backlog")
    backlog = CallBacklog(tmp_path / "calls.jsonl", memory_limit=1)
    for n in range(50):
        backlog.put(call(f"{n}.0"))
    drain(backlog)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "keeping calls beyond 1 in" in messages[0]
    assert "caught up" in messages[1] and "removed" in messages[1]


# ------------------------------------------------------------------ restarts


def test_a_shutdown_leaves_the_backlog_on_disk_and_the_next_start_writes_it(
    tmp_path: Path,
) -> None:
    spill = tmp_path / "calls.jsonl"
    backlog = CallBacklog(spill, memory_limit=2)
    snapshots = [call(f"{n}.0", n) for n in range(5)]
    for snapshot in snapshots:
        backlog.put(snapshot)
    backlog.close()  # the database never came back before the stop
    assert len(spill.read_bytes().splitlines()) == 5
    after_restart = CallBacklog(spill, memory_limit=2)
    assert after_restart.on_disk == 5
    assert drain(after_restart) == snapshots
    assert not spill.exists()


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill = tmp_path / "calls.jsonl"
    whole = [call(f"{n}.0", n) for n in range(3)]
    cut = encode(call("9.9"))[:-15]  # the machine died in the middle of a write
    spill.write_bytes(b"".join(encode(c) for c in whole) + cut)
    backlog = CallBacklog(spill, memory_limit=2)
    late = call("4.0", 4)
    backlog.put(late)  # appended after the broken line, not glued to it
    assert drain(backlog) == [*whole, late]
    assert "skipped a line" in caplog.text
    assert not spill.exists()


def test_a_bad_line_in_the_middle_is_skipped_alone(tmp_path: Path) -> None:
    spill = tmp_path / "calls.jsonl"
    first, second = call("1.0"), call("2.0")
    spill.write_bytes(encode(first) + b'{"linkedid": "garbled\n' + encode(second))
    assert drain(CallBacklog(spill, memory_limit=10)) == [first, second]


def test_memory_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CallBacklog(tmp_path / "calls.jsonl", memory_limit=0)


def test_a_writer_stopped_and_started_again_goes_on_where_it_was(tmp_path: Path) -> None:
    spill = tmp_path / "calls.jsonl"
    backlog = CallBacklog(spill, memory_limit=2)
    snapshots = [call(f"{n}.0", n) for n in range(6)]
    for snapshot in snapshots:
        backlog.put(snapshot)
    head = backlog.next()
    assert head == snapshots[0]
    backlog.done(head)
    backlog.close()  # the writer task stops (memory goes to disk) ...
    assert drain(backlog) == snapshots[1:]  # ... and the same backlog serves the next one
    assert not spill.exists()
