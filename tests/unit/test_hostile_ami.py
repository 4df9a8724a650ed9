"""Hostile AMI input (issue 7, item 6) through the real protocol, link and translator.

Frames with missing colons, 1 MB values, invalid UTF-8, repeated headers, cut
short or of unknown kinds: the connection stays up, every valid event of the
same read arrives in order, a repeated Linkedid or Uniqueid cannot make the
tracker see another call, and memory stays bounded whatever the stream's size.
The AMI server is ``FakeAmi`` (tests/unit/test_link.py) on loopback TCP: a fake,
because hostile bytes cannot be made to come out of a real Asterisk.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami.link import AmiLink, LiveSnapshot
from ami.protocol import MAX_FRAME_BYTES, AmiProtocol, ListAction, parse_frame
from ami.translate import translate, translate_channels
from callcenter.events import ChannelCreated, ChannelHungUp, Event
from callcenter.tracker import CallTracker
from tests.fixtures.ami import load_frames
from tests.reliability_figures import record
from tests.unit.test_link import FakeAmi, eventually
from tests.unit.test_protocol import FakeTransport
from tests.unit.test_tracker import Recorder

NOW = datetime(2026, 12, 4, tzinfo=UTC)
EOL = b"\r\n"
END = EOL + EOL


def valid_event(n: int, name: bytes = b"Ivan", *, repeated: bool = False) -> bytes:
    """A Newchannel of call ``1700.<n>``; ``repeated`` adds lying copies of its ids."""
    lines = [
        b"Event: Newchannel",
        f"Channel: PJSIP/trunk-{n:08x}".encode(),
        b"ChannelState: 4",
        b"CallerIDNum: 84951234567",
        b"CallerIDName: " + name,
        f"Uniqueid: 1700.{n}".encode(),
        f"Linkedid: 1700.{n}".encode(),
    ]
    if repeated:
        lines += [f"UNIQUEID: 666.{n}".encode(), f"linkedid: 666.{n}".encode()]
        lines += [f"Linkedid: 777.{n}".encode(), b"Event: Hangup"]
    return EOL.join(lines) + END


# ---------------------------------------------------------------- hostile frames

_line = st.text(
    st.characters(blacklist_characters="\r\n:", blacklist_categories=["Cs"]), max_size=40
)
# random bytes that cannot end the frame early (a blank line is AMI's only framing)
_junk = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_unknown_name = st.text(
    st.characters(whitelist_categories=["Lu", "Ll", "Nd"]), min_size=1, max_size=30
).filter(lambda name: name.lower() != "shutdown")  # that one closes the link by design

no_colons = st.lists(_line, min_size=1, max_size=4).map(
    lambda lines: "\r\n".join(lines).encode() + END
)
huge_value = st.sampled_from([100_000, MAX_FRAME_BYTES - 200, MAX_FRAME_BYTES + 5000]).map(
    lambda size: b"Event: Newchannel\r\nUniqueid: 666.1\r\nCallerIDName: " + b"v" * size + END
)
invalid_utf8 = _junk.map(lambda junk: b"Event: Garbled\r\nValue: " + junk + b"\xff\xfe\xc3" + END)
bare_junk = _junk.map(lambda junk: junk + END)
repeated_keys = st.permutations(
    [b"Event: VarSet", b"EVENT: Hangup", b"Linkedid: 666.2", b"linkedid: 666.3", b"ActionID: x"]
).map(lambda lines: EOL.join(lines) + END)
truncated = st.integers(0, len(valid_event(0))).map(
    lambda cut: valid_event(0).replace(b"1700.", b"666.")[:cut] + END
)
unknown_event = st.tuples(_unknown_name, _line).map(
    lambda t: f"Event: {t[0]}\r\nUniqueid: 666.4\r\nWhat: {t[1]}".encode() + END
)
hostile_frame = st.one_of(
    no_colons, huge_value, invalid_utf8, bare_junk, repeated_keys, truncated, unknown_event
)


def new_calls(messages: list[object]) -> list[ChannelCreated]:
    """The calls the valid events start (hostile ones use ids 666.*, maybe cut short)."""
    created = (translate(m, NOW) for m in messages)  # type: ignore[arg-type]
    return [e for e in created if isinstance(e, ChannelCreated) and e.linkedid.startswith("1700.")]


async def read_through_the_link(
    stream: bytes, cuts: list[int], last: str
) -> tuple[list[object], AmiLink]:
    """Write ``stream`` in pieces to a logged-in AmiLink; its events up to call ``last``."""
    received: list[object] = []
    async with FakeAmi() as ami:
        link = ami.link(ping_interval=30)
        await link.start()

        async def consume() -> None:
            async for message in link.events():
                received.append(message)
                if message.get("Linkedid") == last:
                    return

        consumer = asyncio.create_task(consume())
        try:
            await link.wait_connected(5)
            await eventually(lambda: link.resyncs == 1)
            bounds = [0, *sorted(cuts), len(stream)]
            for start, end in itertools.pairwise(bounds):
                await ami.push_bytes(stream[start:end])
            await asyncio.wait_for(consumer, 20)
            # still the same connection, and in step: an action gets its own reply
            reply = await link.send({"Action": "Ping"}, timeout=5)
            assert reply["Ping"] == "Pong"
            assert link.connected and link.connections == 1 and ami.logins == 1
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await link.stop()
    return received, link


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(st.tuples(_junk, st.booleans(), st.lists(hostile_frame, max_size=4)), max_size=8),
    st.data(),
)
def test_hostile_frames_between_valid_events_over_tcp(
    parts: list[tuple[bytes, bool, list[bytes]]], data: st.DataObject
) -> None:
    pieces, expected = [], []
    for n, (name, repeated, hostile) in enumerate(parts):
        pieces += [*hostile, valid_event(n, name, repeated=repeated)]
        expected.append((f"1700.{n}", name.decode("utf-8", "replace")))
    last = len(parts)
    pieces.append(valid_event(last))
    expected.append((f"1700.{last}", "Ivan"))
    stream = b"".join(pieces)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))

    received, link = asyncio.run(read_through_the_link(stream, cuts, f"1700.{last}"))

    # every valid event, in order, under its first Linkedid; nothing else is a new call
    got = [(e.linkedid, e.channel.caller_name) for e in new_calls(received)]
    unknown = {"<unknown>", "<null>", "(null)"}
    assert got == [(lid, "" if name in unknown else name) for lid, name in expected]
    assert all(e.channel.uniqueid == e.linkedid for e in new_calls(received))
    assert link.bad_frames == 0 and link.dropped_events == 0


# ---------------------------------------------------------------- parser rules


def test_invalid_utf8_inside_a_value_spoils_only_that_value() -> None:
    message = parse_frame(
        b"Event: Newchannel\r\nCallerIDName: \xd0\x98\xff\xfe\xd0\xb2\xd0\xb0\xd0\xbd\r\n"
        b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\nChannel: PJSIP/trunk-00000001"
    )
    assert message is not None
    assert message["CallerIDName"] == "И\ufffd\ufffdван"
    event = translate(message, NOW)
    assert isinstance(event, ChannelCreated) and event.linkedid == "1.1"


def test_a_repeated_header_keeps_its_first_value_in_any_letter_case() -> None:
    message = parse_frame(
        b"Event: Hangup\r\nEVENT: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\n"
        b"Uniqueid: 1.1\r\nUNIQUEID: 9.9\r\nLinkedid: 1.1\r\nlinkedid: 9.9\r\nLinkedid: 8.8"
    )
    assert message is not None
    assert message["Event"] == "Hangup"  # a routing header: one value
    assert message["Linkedid"] == ["1.1", "9.9", "8.8"]  # in order, under its first spelling
    event = translate(message, NOW)
    assert isinstance(event, ChannelHungUp)
    assert event.linkedid == "1.1" and event.channel.uniqueid == "1.1"


async def test_repeated_event_and_action_id_headers_are_not_bad_frames() -> None:
    events: list[object] = []
    protocol = AmiProtocol(events.append)
    transport = FakeTransport()
    protocol.connection_made(transport)
    ping = protocol.send({"Action": "Ping", "ActionID": "p1"}, as_list=False)
    protocol.data_received(
        b"Response: Success\r\nActionID: p1\r\nActionID: p2\r\nPing: Pong\r\n\r\n"
        b"Event: Shutdown-not\r\nEvent: Shutdown\r\n\r\n"
    )
    reply = await asyncio.wait_for(ping, 1)
    assert reply["Ping"] == "Pong"
    # the first Event counts: not a Shutdown, so the connection stays
    assert [m["Event"] for m in events] == ["Shutdown-not"]  # type: ignore[index]
    assert protocol.bad_frames == 0 and not transport.closed


async def test_a_repeated_linkedid_in_the_live_list_names_the_call_the_events_name() -> None:
    protocol = AmiProtocol(lambda message: None)
    protocol.connection_made(FakeTransport())
    channels = ListAction({"Action": "CoreShowChannels", "ActionID": "c1"})
    future = protocol.send(channels)
    protocol.data_received(
        b"Response: Success\r\nActionID: c1\r\nEventList: start\r\n\r\n"
        b"Event: CoreShowChannel\r\nActionID: c1\r\nChannel: PJSIP/trunk-00000001\r\n"
        b"Uniqueid: 1.1\r\nuniqueid: 9.9\r\nLinkedid: 1.1\r\nLinkedid: 9.9\r\nChannelState: 6\r\n"
        b"Application: Queue\r\nApplicationData: support\r\n\r\n"
        b"Event: CoreShowChannelsComplete\r\nActionID: c1\r\nEventList: Complete\r\n\r\n"
    )
    [row] = await future
    snapshot = LiveSnapshot(NOW, (row,), (), (), ())
    assert snapshot.linkedids() == {"1.1"}

    # the same call, as its events named it: reconciling with the snapshot keeps it open
    recorder = Recorder()
    tracker = CallTracker(recorder)
    created = parse_frame(
        b"Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nChannelState: 4\r\n"
        b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\nLINKEDID: 9.9"
    )
    event = translate(created, NOW)  # type: ignore[arg-type]
    assert event is not None
    tracker.handle(event)
    tracker.reconcile(snapshot.linkedids(), NOW)
    assert [call.linkedid for call in tracker.live_calls()] == ["1.1"]
    assert recorder.ended == {}
    assert {e.linkedid for e in translate_channels(snapshot.channels, NOW)} == {"1.1"}


# ---------------------------------------------------------------- the tracker


def poisoned(frame: str) -> str:
    """A recorded frame with lying repeats of its ids after the true ones."""
    extra = [
        f"{key.upper()}: 666.{i}"
        for i, key in enumerate(("Uniqueid", "Linkedid", "DestLinkedid", "Channel"))
        if f"\r\n{key}: " in frame
    ]
    return "\r\n".join([frame, *extra, "Linkedid: 666.9", "Event: Hangup"])


HOSTILE_BETWEEN = [
    b"Event: Hangup\r\nLinkedid: 666.1\r\nUniqueid: 666.1\r\nChannel: PJSIP/x-1\r\n\r\n",
    b"Event: TotallyNew\r\nLinkedid: 666.2\r\n\r\n",
    b"no colon at all\r\n\r\n",
    b"Event: Newchannel\r\nCallerIDName: \xff\xfe\r\nUniq",  # cut: ends at the next blank line
    b"\r\n\r\n",
    b"Event: Newchannel\r\nUniqueid: 666.3\r\nX: " + b"y" * (MAX_FRAME_BYTES + 10) + END,
    b"\x00\x01\x02\xff" * 100 + END,
]


async def tracked(frames: list[bytes]) -> Recorder:
    """Feed raw frames to the real protocol, translate, track; what the observer saw."""
    messages: list[object] = []
    protocol = AmiProtocol(messages.append, slice_frames=10**6, slice_seconds=60)
    protocol.connection_made(FakeTransport())
    protocol.data_received(b"".join(frames))
    assert not protocol.lost.done()
    recorder = Recorder()
    tracker = CallTracker(recorder)
    for message in messages:
        event = translate(message, NOW)  # type: ignore[arg-type]
        if event is not None:
            tracker.handle(event)
    return recorder


async def test_hostile_frames_and_lying_repeats_do_not_change_the_tracked_calls() -> None:
    for name in ("queue_ringall_both_answer", "blind_transfer", "attended_transfer"):
        clean = [frame.encode() + END for _, frame in load_frames(name)]
        hostile: list[bytes] = []
        for i, (_, frame) in enumerate(load_frames(name)):
            # the cut frame swallows the one after it: only ever before a blank line
            junk = HOSTILE_BETWEEN[i % len(HOSTILE_BETWEEN)]
            hostile += [junk if junk.endswith(END) else junk + END, poisoned(frame).encode() + END]
        expected, got = await tracked(clean), await tracked(hostile)
        # the hostile Hangup of call 666.1 is a call of its own (joined mid-way)
        assert [entry for entry in got.log if not entry[1].startswith("666.")] == expected.log
        assert {k: v for k, v in got.ended.items() if not k.startswith("666.")} == expected.ended
        assert expected.ended, name


def test_unknown_events_are_ignored_by_the_translator_and_the_tracker() -> None:
    recorder = Recorder()
    tracker = CallTracker(recorder)
    frames = [
        b"Event: NewFeatureEvent\r\nLinkedid: 1.1\r\nUniqueid: 1.1\r\nChannel: PJSIP/a-1",
        b"Event: \r\nLinkedid: 1.1",
        b"Event: " + "Событие".encode() + b"\r\nLinkedid: 1.1",
        b"Event: Newchannel-ish\r\nLinkedid: 1.1\r\nUniqueid: 1.1\r\nChannel: PJSIP/a-1",
    ]
    for raw in frames:
        message = parse_frame(raw)
        assert message is not None
        event: Event | None = translate(message, NOW)
        assert event is None
    tracker.reconcile(set(), NOW)
    assert recorder.log == [] and tracker.live_calls() == []


# ---------------------------------------------------------------- memory


def hostile_kinds() -> list[bytes]:
    return [
        b"Event: Newchannel\r\nUniqueid: 666.1\r\nX: " + b"y" * (MAX_FRAME_BYTES + 50_000) + END,
        b"Event: Garbled\r\nValue: " + b"\xff\xfe\xc3" * 300_000 + END,
        b"no colons " * 50_000 + END,
        b"Event: Newchannel\r\nUniqueid: 666.2\r\nCallerIDName: " + b"n" * 900_000 + END,
        b"".join(b"Event: Unknown%d\r\nA: b\r\nA: c\r\n\r\n" % i for i in range(5_000)),
        b"Event: Trunc\r\nX: " + b"z" * 500_000,  # a cut frame: runs into the next one
    ]


def hostile_stream(kinds: list[bytes], total: int) -> Iterator[bytes]:
    """About ``total`` bytes of hostile frames, the same few objects written again."""
    sent = 0
    while sent < total:
        for kind in kinds:
            yield kind
            sent += len(kind)


async def pushed_through_the_link(total: int) -> tuple[int, float, int, int]:
    """Bytes written, tracemalloc's peak (MB) meanwhile, valid events seen and expected.

    A valid event follows every hostile piece; the one after a cut frame (no blank
    line) becomes part of it, as AMI's framing has it, and is not expected.
    """
    seen = expected = 0
    kinds = hostile_kinds()
    after = valid_event(1)
    last = after.replace(b"Uniqueid: 1700.1", b"Uniqueid: 1700.last")
    async with FakeAmi() as ami:
        link = ami.link(ping_interval=30)
        await link.start()

        async def consume() -> None:
            # as the inbound pipeline: translate each event, keep nothing
            nonlocal seen
            async for message in link.events():
                translate(message, datetime.now(UTC))
                if message.get("Linkedid") == "1700.1" and message.get("Event") == "Newchannel":
                    seen += 1
                    if message.get("Uniqueid") == "1700.last":
                        return

        consumer = asyncio.create_task(consume())
        written = 0
        try:
            await link.wait_connected(5)
            await eventually(lambda: link.resyncs == 1)
            gc.collect()
            tracemalloc.start()
            tracemalloc.reset_peak()
            for piece in hostile_stream(kinds, total):
                await ami.push_bytes(piece)
                await ami.push_bytes(after)
                written += len(piece)
                expected += piece.endswith(END)
            await ami.push_bytes(last)
            expected += 1
            await asyncio.wait_for(consumer, 60)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            assert link.connected and link.connections == 1
        finally:
            tracemalloc.stop()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await link.stop()
    return written, peak, seen, expected


def test_memory_stays_bounded_whatever_the_hostile_stream_s_size() -> None:
    started = time.perf_counter()
    small = asyncio.run(pushed_through_the_link(10_000_000))
    large = asyncio.run(pushed_through_the_link(50_000_000))
    seconds = time.perf_counter() - started
    for _, peak, seen, expected in (small, large):
        assert seen == expected
        # about twice the largest frame the splitter keeps, whatever the size
        assert peak < 12, peak
    assert large[0] >= 4 * small[0]
    assert large[1] < small[1] + 3, (small, large)
    record(
        "hostile_ami",
        bytes=large[0],
        events_delivered=large[2],
        tracemalloc_peak_mb_10mb=round(small[1], 1),
        tracemalloc_peak_mb_50mb=round(large[1], 1),
        events_lost=0,
        seconds=round(seconds, 1),
    )
