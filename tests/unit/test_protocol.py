"""The AMI frame splitter and protocol on raw bytes: no socket, no Asterisk."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from ami.protocol import SEPARATOR, AmiProtocol, FrameSplitter, ListAction, parse_frame

GREETING = b"Asterisk Call Manager/9.0.0\r\n"


def frame(*headers: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"


def channel_event(i: int, action_id: str = "rs-1") -> bytes:
    # about the size of a real CoreShowChannel event (700 bytes)
    return frame(
        ("Event", "CoreShowChannel"),
        ("ActionID", action_id),
        ("Channel", f"PJSIP/trunk-{i:08x}"),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", "84951234567"),
        ("CallerIDName", "Иван Петров"),
        ("ConnectedLineNum", "101"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "from-trunk"),
        ("Exten", "74951112233"),
        ("Priority", "5"),
        ("Uniqueid", f"1700000000.{i}"),
        ("Linkedid", f"1700000000.{i - i % 2}"),
        ("Application", "Queue"),
        ("ApplicationData", "support,,,,300"),
        ("Duration", "00:01:23"),
        ("BridgeId", "0d5a6a3e-1b0c-4d4e-9e8a-" + f"{i:012d}"),
    )


def split_all(chunks: list[bytes], splitter: FrameSplitter | None = None) -> list[bytes]:
    splitter = splitter or FrameSplitter()
    out = []
    for chunk in chunks:
        splitter.feed(chunk)
        while (raw := splitter.next_frame()) is not None:
            out.append(raw)
    return out


# ------------------------------------------------------------------ splitter

header_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]),
    max_size=30,
)
frames_strategy = st.lists(
    st.lists(st.tuples(header_text, header_text), min_size=1, max_size=5), min_size=1, max_size=8
)


@given(frames_strategy, st.data())
def test_frames_survive_any_cut_of_the_stream(
    headers: list[list[tuple[str, str]]], data: st.DataObject
) -> None:
    frames = [frame(*h) for h in headers]
    stream = GREETING + b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    splitter = FrameSplitter()
    assert split_all(chunks, splitter) == [f[: -len(SEPARATOR)] for f in frames]
    assert splitter.greeting == "Asterisk Call Manager/9.0.0"
    assert splitter.pending == 0


def test_every_cut_position_of_a_real_frame_sequence() -> None:
    frames = [channel_event(1), frame(("Event", "Hangup"), ("Uniqueid", "1.2")), channel_event(2)]
    stream = GREETING + b"".join(frames)
    expected = [f[: -len(SEPARATOR)] for f in frames]
    for cut in range(len(stream) + 1):
        for second in (cut, min(cut + 1, len(stream)), min(cut + 3, len(stream))):
            chunks = [stream[:cut], stream[cut:second], stream[second:]]
            assert split_all(chunks) == expected, (cut, second)


def test_a_five_megabyte_response_in_chunks_is_split_in_linear_work() -> None:
    body = b"".join(channel_event(i) for i in range(11_000))
    stream = GREETING + frame(("Response", "Success"), ("EventList", "start")) + body
    assert len(stream) > 5_000_000
    for chunk_size in (1, 7, 1460, 65536, 262144):
        # one byte at a time only over the first 50 kB (slow in pure Python)
        data = stream[:50_000] if chunk_size == 1 else stream
        splitter = FrameSplitter()
        feeds = count = 0
        for start in range(0, len(data), chunk_size):
            splitter.feed(data[start : start + chunk_size])
            feeds += 1
            while splitter.next_frame() is not None:
                count += 1
        # every byte searched about once, not again on each read
        assert splitter.scanned <= len(data) + 3 * feeds, chunk_size
        if data is stream:
            assert count == 11_001 and splitter.pending == 0


def test_garbage_between_frames_does_not_lose_the_next_frame() -> None:
    garbage = bytes(range(256)) * 3 + b"\r\n\r\n" + b"no colon here\r\nnor here\r\n\r\n"
    good = frame(("Event", "Newchannel"), ("Channel", "PJSIP/op101-00000001"))
    raws = split_all([GREETING, garbage, good])
    messages = [parse_frame(raw) for raw in raws]
    assert messages[-1] is not None and messages[-1]["Channel"] == "PJSIP/op101-00000001"
    assert all(m is None for m in messages[:-1])


def test_missing_colons_and_odd_lines_are_skipped_not_fatal() -> None:
    message = parse_frame(b"Event: Newstate\r\nno colon\r\nKey:NoSpace\r\nChannel: PJSIP/x-1")
    assert message is not None
    assert message["Event"] == "Newstate" and message["Channel"] == "PJSIP/x-1"
    assert "no colon" not in message


def test_no_greeting_is_fine() -> None:
    raws = split_all([frame(("Response", "Success"), ("Ping", "Pong"))])
    assert raws == [b"Response: Success\r\nPing: Pong"]


def test_utf8_cut_between_reads_is_not_lost() -> None:
    data = GREETING + frame(("Event", "Newchannel"), ("CallerIDName", "Анна Иванова"))
    cut = data.index("Анна".encode()) + 1  # inside the first Cyrillic letter
    [raw] = split_all([data[:cut], data[cut:]])
    message = parse_frame(raw)
    assert message is not None and message["CallerIDName"] == "Анна Иванова"


def test_an_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    splitter = FrameSplitter(max_frame_bytes=10_000)
    huge = b"Event: Huge\r\n" + b"X: " + b"y" * 50_000 + b"\r\n\r\n"
    after = frame(("Event", "Hangup"))
    chunks = [GREETING, *(huge[i : i + 4096] for i in range(0, len(huge), 4096)), after]
    assert split_all(chunks, splitter) == [b"Event: Hangup"]
    assert splitter.oversized == 1
    assert splitter.pending == 0


@settings(max_examples=200)
@given(st.binary(max_size=2000), st.lists(st.integers(1, 300), max_size=10))
def test_any_bytes_never_raise(data: bytes, sizes: list[int]) -> None:
    splitter = FrameSplitter(max_frame_bytes=500)
    chunks, start = [], 0
    for size in sizes:
        chunks.append(data[start : start + size])
        start += size
    chunks.append(data[start:])
    for raw in split_all(chunks, splitter):
        parse_frame(raw)
    assert splitter.pending <= max(len(data), 3)


# ------------------------------------------------------------------ protocol


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.reading = True
        self.pauses = 0
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def make_protocol(**options: Any) -> tuple[AmiProtocol, FakeTransport, list[Message]]:
    events: list[Message] = []
    protocol = AmiProtocol(events.append, **options)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport, events


async def settle(protocol: AmiProtocol) -> None:
    for _ in range(10_000):
        if protocol._resume is None:
            return
        await asyncio.sleep(0)
    raise AssertionError("parsing never finished")


async def test_a_huge_read_is_parsed_in_slices_with_reading_paused() -> None:
    protocol, transport, events = make_protocol(slice_frames=100, slice_seconds=60)
    data = GREETING + b"".join(channel_event(i, action_id=f"e{i}") for i in range(1000))
    protocol.data_received(data)
    # the first slice stopped after 100 frames and gave the loop back
    assert len(events) == 100
    assert not transport.reading and transport.pauses == 1
    protocol.data_received(frame(("Event", "Late")))  # e.g. SSL: buffered, not parsed yet
    assert len(events) == 100
    await settle(protocol)
    assert transport.reading
    assert [e["Uniqueid"] for e in events[:-1]] == [f"1700000000.{i}" for i in range(1000)]
    assert events[-1]["Event"] == "Late"
    assert protocol.slices >= 10
    assert protocol.version == "9.0.0"


async def test_a_slice_also_ends_on_its_time_budget() -> None:
    ticks = iter(range(10**9))
    protocol, transport, events = make_protocol(
        slice_frames=10**6, slice_seconds=5, clock=lambda: float(next(ticks))
    )
    protocol.data_received(b"".join(channel_event(i) for i in range(1000)))
    assert len(events) < 1000 and not transport.reading
    await settle(protocol)
    assert len(events) == 1000


async def test_an_exception_in_one_frame_keeps_the_connection_and_the_other_frames() -> None:
    seen: list[str] = []

    def dispatch(message: Message) -> None:
        if message["Event"] == "Boom":
            raise RuntimeError("a buggy consumer")
        seen.append(message["Event"])

    protocol = AmiProtocol(dispatch)
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(frame(("Event", "A")) + frame(("Event", "Boom")) + frame(("Event", "B")))
    assert seen == ["A", "B"]
    assert protocol.bad_frames == 1
    assert not transport.closed and not protocol.lost.done()


async def test_lost_connection_fails_pending_actions_and_never_resends() -> None:
    protocol, transport, _ = make_protocol()
    originate = protocol.send({"Action": "Originate", "ActionID": "o1", "Channel": "PJSIP/op101"})
    protocol.connection_lost(None)
    with pytest.raises(ConnectionError, match="Originate"):
        await originate
    assert protocol.responses == {}
    assert protocol.lost.done()
    with pytest.raises(ConnectionError):
        protocol.send({"Action": "Ping"})
    assert sum(b"Originate" in w for w in transport.written) == 1


async def test_frames_read_before_the_connection_dropped_are_not_lost() -> None:
    protocol, transport, events = make_protocol(slice_frames=10, slice_seconds=60)
    protocol.data_received(b"".join(frame(("Event", "Hangup"), ("N", str(i))) for i in range(50)))
    assert len(events) == 10  # the rest waits for the next slice
    protocol.connection_lost(None)
    assert [e["N"] for e in events] == [str(i) for i in range(50)]
    assert protocol.lost.done() and transport.closed


async def test_a_shutdown_event_closes_the_connection() -> None:
    protocol, transport, events = make_protocol()
    protocol.data_received(frame(("Event", "Shutdown"), ("Shutdown", "Cleanly")))
    assert events[0]["Event"] == "Shutdown"
    assert transport.closed and protocol.lost.done()


async def test_a_list_action_completes_at_its_place_in_the_stream() -> None:
    protocol, _, events = make_protocol()
    marks: list[int] = []
    action = ListAction(
        {"Action": "CoreShowChannels", "ActionID": "rs-1"},
        lambda rows: marks.append(len(events)),
    )
    future = protocol.send(action)
    protocol.data_received(
        frame(("Response", "Success"), ("ActionID", "rs-1"), ("EventList", "start"))
        + frame(("Event", "Before"))
        + channel_event(1, "rs-1")
        + frame(("Event", "CoreShowChannelsComplete"), ("ActionID", "rs-1"))
        + frame(("Event", "After"))
    )
    assert marks == [1]  # "Before" was dispatched, "After" not yet
    assert [e["Event"] for e in events] == ["Before", "After"]
    [row] = await future
    assert type(row) is dict and row["Linkedid"] == "1700000000.0"
    assert row["CallerIDName"] == "Иван Петров" and "content" not in row
    assert protocol.responses == {}


async def test_a_refused_list_action_returns_the_response() -> None:
    protocol, _, events = make_protocol()
    future = protocol.send(ListAction({"Action": "QueueStatus", "ActionID": "q1"}))
    protocol.data_received(frame(("Response", "Error"), ("ActionID", "q1"), ("Message", "no")))
    reply = await future
    assert isinstance(reply, Message) and reply["Message"] == "no"
    assert protocol.responses == {} and events == []


async def test_an_abandoned_list_is_swallowed_not_dispatched() -> None:
    protocol, _, events = make_protocol()
    future = protocol.send(ListAction({"Action": "CoreShowChannels", "ActionID": "c1"}))
    protocol.data_received(
        frame(("Response", "Success"), ("ActionID", "c1"), ("EventList", "start"))
    )
    future.cancel()
    protocol.data_received(
        channel_event(1, "c1")
        + frame(
            ("Event", "CoreShowChannelsComplete"), ("ActionID", "c1"), ("EventList", "Complete")
        )
        + frame(("Event", "Next"))
    )
    assert [e["Event"] for e in events] == ["Next"]
    assert protocol.responses == {}


async def test_replies_for_abandoned_actions_are_forgotten() -> None:
    protocol, _, events = make_protocol()
    future = protocol.send({"Action": "Ping", "ActionID": "p1"}, as_list=False)
    future.cancel()
    protocol.data_received(frame(("Response", "Success"), ("ActionID", "p1"), ("Ping", "Pong")))
    assert protocol.responses == {}
    assert events == []
