"""The AMI wire protocol for panoramisk, with a linear frame splitter.

panoramisk 1.4's ``AMIProtocol.data_received`` decodes every read, glues it to
the unparsed tail and splits the whole text again: a multi-megabyte list
response (CoreShowChannels with thousands of channels) costs quadratic time and
blocks the event loop for a third of a second. It also decodes each read on its
own, so a UTF-8 character cut by a TCP read is silently lost, and a callback
that raises inside ``data_received`` takes the connection down.

``FrameSplitter`` keeps the bytes in one ``bytearray`` and searches for the
blank line only in bytes it has not searched yet. ``AmiProtocol`` parses a
bounded slice of frames per loop iteration (pausing the socket meanwhile), so
one huge response never stalls the loop, and isolates every frame: a frame that
fails to parse or to dispatch is counted and logged, the rest of the read goes
on. It also never re-sends or requeues an action: when the connection goes,
every action still waiting for its reply fails with ``ConnectionError``.

Repeated headers (Asterisk never sends one, a garbled stream may): the first
occurrence counts, whatever its letter case. ``parse_frame`` keeps a repeated
header under its first spelling with its values listed in arrival order (the
translator reads the first), the headers the protocol routes on (Event,
Response, ActionID ...) keep only their first value, and a list row keeps the
first value of each. panoramisk alone would keep the *last* of two spellings
("Linkedid" then "LINKEDID"), which the translator would not even find, and
join a list row's repeats with commas: the live snapshot would then name a call
"a,b" that the events call "a".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

SEPARATOR = b"\r\n\r\n"
GREETING = b"Asterisk Call Manager/"
# no sane AMI frame comes near this; a longer one is cut off rather than buffered forever
MAX_FRAME_BYTES = 1 << 20
# one slice of parsing gives the loop back after this long or this many frames
SLICE_SECONDS = 0.005
SLICE_FRAMES = 2000


class FrameSplitter:
    """Bytes in, complete AMI frames out, in linear time.

    ``scanned`` counts the bytes the separator search looked at: it stays within
    the bytes fed plus three per ``feed`` however the stream is cut.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.greeting: str | None = None
        self.scanned = 0
        self.oversized = 0
        self._buffer = bytearray()
        self._scan = 0  # the separator is not before this index
        self._discarding = False  # inside an oversized frame: drop up to its end
        self._expect_greeting = True

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer)

    def next_frame(self) -> bytes | None:
        """The next complete frame (without its blank line), or None until more bytes come."""
        buffer = self._buffer
        while True:
            if self._expect_greeting:
                self._take_greeting()
                if self._expect_greeting:
                    return None
            end = buffer.find(SEPARATOR, self._scan)
            if end < 0:
                self.scanned += len(buffer) - self._scan
                # the separator may straddle this read and the next one
                self._scan = max(len(buffer) - len(SEPARATOR) + 1, 0)
                if len(buffer) > self.max_frame_bytes:
                    self._cut_oversized()
                return None
            self.scanned += end + len(SEPARATOR) - self._scan
            frame = bytes(buffer[:end])
            # deleting a bytearray's head only moves its start (CPython): O(1)
            del buffer[: end + len(SEPARATOR)]
            self._scan = 0
            if self._discarding:
                self._discarding = False
                continue
            return frame

    def _take_greeting(self) -> None:
        buffer = self._buffer
        if not buffer.startswith(GREETING[: len(buffer)]):
            self._expect_greeting = False  # no greeting line (some test servers)
            return
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > 256:
                self._expect_greeting = False
            return
        self.greeting = buffer[:end].decode("utf-8", "replace")
        self._expect_greeting = False
        del buffer[: end + 2]

    def _cut_oversized(self) -> None:
        if not self._discarding:
            self.oversized += 1
            log.error("AMI frame longer than %d bytes: dropped", self.max_frame_bytes)
        self._discarding = True
        # keep the last bytes: they may be the start of the separator
        del self._buffer[: len(self._buffer) - len(SEPARATOR) + 1]
        self._scan = 0


# the headers this module routes a frame on: one value each, the first
ROUTING_HEADERS = frozenset({"event", "response", "actionid", "commandid", "eventlist"})
# panoramisk's rule: these responses end with a body (command output) instead of a header
_HAS_BODY = ("Response: Follows", "Response: Fail")


def parse_frame(raw: bytes) -> Message | None:
    """One frame as panoramisk's ``Message``; None for frames with no Event/Response.

    Lines are ``Key: value`` (others are skipped); bytes that are not UTF-8
    become U+FFFD in their value only; a repeated header keeps its first
    spelling and lists its values (see the module doc).
    """
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return None
    lines = text.split("\r\n")
    content = ""
    if lines[0].startswith(_HAS_BODY):
        content = lines.pop()
        while not content and lines:
            content = lines.pop()
    headers: dict[str, str | list[str]] = {}
    spelling: dict[str, str] = {}  # lowercased -> the key as first sent
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        lower = key.lower()
        first = spelling.setdefault(lower, key)
        if first not in headers:
            headers[first] = value
        elif lower not in ROUTING_HEADERS:
            known = headers[first]
            headers[first] = [*known, value] if isinstance(known, list) else [known, value]
    if "event" not in spelling and "response" not in spelling:
        return None
    return Message(headers, content)


class ListAction(Action):  # type: ignore[misc]  # panoramisk is untyped
    """An action answered by an event list (CoreShowChannels, QueueStatus ...).

    Its future gets the list's events as plain ``dict[str, str]`` rows (an empty
    list is a valid answer), or the response ``Message`` when Asterisk refused.
    Plain rows of strings are invisible to the garbage collector; thousands of
    panoramisk Messages kept alive make every full collection pause the loop.

    ``on_complete(rows)`` is called the moment the list ends, inside the
    protocol, at the list's place in the stream: events read before it were
    already dispatched, events after it were not (a future's done-callbacks
    would run later, after the rest of the read).
    """

    def __init__(
        self, fields: Any, on_complete: Callable[[list[dict[str, str]]], None] | None = None
    ) -> None:
        super().__init__(fields)
        self.on_complete = on_complete
        self.rows: list[dict[str, str]] = []
        self._started = False
        self._finished = False

    @property
    def completed(self) -> bool:
        return self._finished

    def add_message(self, message: Message) -> bool:
        if not self._started:
            if message.get("EventList") == "start" and message.success:
                self._started = True
                return False
            self._finished = True
            if not self.future.done():
                self.future.set_result(message)  # refused, or not a list at all
            return True
        if message.get("EventList") == "Complete" or str(message.get("Event")).endswith("Complete"):
            self._finished = True
            if not self.future.done():
                self.future.set_result(self.rows)
                if self.on_complete is not None:
                    self.on_complete(self.rows)
            return True
        if not self.future.done():  # else the caller gave up: swallow the rest
            self.rows.append(plain_row(message))
        return False


def plain_row(message: Message) -> dict[str, str]:
    """A Message's headers as a plain dict; a repeated header gives its first value."""
    return {
        key: value if isinstance(value, str) else value[0]
        for key, value in message.items()
        if key != "content"
    }


class AmiProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk's protocol with our splitter, sliced parsing and no re-sends.

    Every event that answers no pending action goes to ``dispatch`` (which must
    only enqueue). ``lost`` resolves when the connection is gone, for any reason.
    """

    closed: bool
    version: str | None

    def __init__(
        self,
        dispatch: Callable[[Message], None],
        *,
        slice_seconds: float = SLICE_SECONDS,
        slice_frames: int = SLICE_FRAMES,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self._dispatch = dispatch
        self._slice_seconds = slice_seconds
        self._slice_frames = slice_frames
        self._clock = clock
        self.splitter = FrameSplitter()
        self.frames = 0
        self.bad_frames = 0
        self.slices = 0
        self.received_bytes = 0
        self.last_received = 0.0
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._resume: asyncio.Handle | None = None

    # ---------------------------------------------------------------- asyncio

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.log = log
        self.encoding = "utf-8"
        self.last_received = asyncio.get_running_loop().time()

    def data_received(self, data: bytes) -> None:
        self.received_bytes += len(data)
        self.last_received = asyncio.get_running_loop().time()
        self.splitter.feed(data)
        if self._resume is None:  # otherwise a slice is already scheduled
            self._parse_slice()

    def connection_lost(self, exc: BaseException | None) -> None:
        # frames already received still count (the last Hangups before a restart)
        if not self.closed:
            if self._resume is not None:
                self._resume.cancel()
                self._resume = None
            while not self.closed and (raw := self.splitter.next_frame()) is not None:
                self._handle_frame(raw)
        self.close(exc or ConnectionError("Asterisk closed the AMI connection"))

    # --------------------------------------------------------------- actions

    def send(self, data: Any, as_list: bool | None = False) -> asyncio.Future[Any]:
        if self.closed:
            raise ConnectionError("the AMI connection is closed")
        future: asyncio.Future[Any] = super().send(data, as_list=as_list)
        return future

    def close(self, exc: BaseException | None = None) -> None:
        """Close the transport and fail every action still waiting for a reply.

        panoramisk would queue unanswered actions and send them again after the
        next login; an Originate could then ring a customer twice.
        """
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        pending = {id(action): action for action in self.responses.values()}.values()
        self.responses.clear()
        for action in pending:
            if not action.future.done():
                name = action.get("Action", "?")
                action.future.set_exception(
                    ConnectionError(
                        f"AMI connection lost before the reply to {name} "
                        f"(ActionID {action.get('ActionID', '?')}); it will not be sent again"
                    )
                )
        if not self.closed:
            self.closed = True
            self.transport.close()
        if not self.lost.done():
            self.lost.set_result(exc)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the connection now (a frozen link: buffered writes are pointless)."""
        if not self.closed:
            self.transport.abort()
        self.close(exc or ConnectionError("AMI connection aborted"))

    # ---------------------------------------------------------------- frames

    def _parse_slice(self) -> None:
        self._resume = None
        self.slices += 1
        deadline = self._clock() + self._slice_seconds
        more = False
        for handled in range(1, self._slice_frames + 1):
            raw = self.splitter.next_frame()
            if raw is None:
                break
            self._handle_frame(raw)
            if self.closed:
                return
            if handled % 32 == 0 and self._clock() > deadline:
                more = True
                break
        else:
            more = True
        if self.version is None and self.splitter.greeting is not None:
            self.version = self.splitter.greeting.partition("/")[2].strip()
        if more:
            # more complete frames are buffered: give the loop a turn first and
            # stop reading meanwhile, so the backlog cannot grow without bound
            self.transport.pause_reading()
            self._resume = asyncio.get_running_loop().call_soon(self._continue)

    def _continue(self) -> None:
        self._parse_slice()
        if self._resume is None and not self.closed:
            self.transport.resume_reading()

    def handle_message(self, message: Message) -> None:
        action = self.responses.get(message.id)
        if action is None and message.action_id:
            action = self.responses.get(message.action_id)
        if action is not None:
            finished = action.add_message(message)
            # also forget actions whose caller gave up, once their reply is complete
            if finished or (action.future.done() and action.completed):
                self.responses.pop(action.id, None)
                if action.action_id:
                    self.responses.pop(action.action_id, None)
            return
        if "event" in message:
            self._dispatch(message)
            if message["event"].lower() == "shutdown":
                self.close(ConnectionError("Asterisk is shutting down"))

    def _handle_frame(self, raw: bytes) -> None:
        self.frames += 1
        try:
            message = parse_frame(raw)
            if message is not None:
                self.handle_message(message)
        except Exception:
            # one bad frame must not cost the connection or the other frames
            self.bad_frames += 1
            log.exception("AMI frame not handled: %r", raw[:200])
