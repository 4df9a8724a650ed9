"""The supervisors' browsers of the wallboard_fanout benchmark, run as their own process.

Opens one websocket per session token (lines ``--first`` .. ``--first + --count``
of ``--tokens``) with the session cookie and, like a browser, offers
permessage-deflate. Notes for every ``wallboard`` picture when its last byte
arrived (``time.time()``) next to the picture's own ``ts``. Prints ``READY <n>``
once all are open; on SIGTERM prints one JSON object with the arrivals.

Each websocket is a bare ``asyncio.Protocol`` that reads only the envelope's first
bytes of each frame: the client processes share the machine's two cores with the
server, and a full client (aiohttp's: decode every picture into a ``str``, wake a
task per message) would spend about 50 us a message, 25 ms a picture per 500
connections, counted as delivery time though a browser has a machine of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import re
import signal
import struct
import sys
import time
import zlib
from array import array
from pathlib import Path

from web.auth import SESSION_COOKIE

# the envelope's first keys; reading "ts" there spares parsing the whole picture
_HEAD = re.compile(rb'^\{"type": "wallboard", "seq": 0, "ts": ([0-9.]+)')
CONNECTING_AT_ONCE = 50
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


class Tally:
    """What one client process saw, over all its websockets."""

    def __init__(self) -> None:
        # a picture's ts, and ms after it: plain doubles, nothing for the collector to
        # walk (a tuple an arrival made this process pause for a full collection)
        self.ts = array("d")
        self.ms = array("d")
        self.opened = 0
        self.deflate = 0  # websockets on which the server agreed to permessage-deflate
        self.failed: list[str] = []
        self.closed_by_server: list[int | None] = []


def _client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A client's frames are masked (RFC 6455 5.3); short control frames only."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


class Browser(asyncio.Protocol):
    def __init__(self, host: str, token: str, tally: Tally, opened: asyncio.Future[None]) -> None:
        self.host = host
        self.token = token
        self.tally = tally
        self.opened = opened
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.inflate: zlib._Decompress | None = None
        self.stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                f"Cookie: {SESSION_COOKIE}={self.token}\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded and not self._upgrade():
            return
        self._frames(now)

    def _upgrade(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        if not head.startswith("HTTP/1.1 101"):
            self._fail(head.splitlines()[0])
            return False
        if "permessage-deflate" in head.lower():
            self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self.tally.deflate += 1
        self.upgraded = True
        self.tally.opened += 1
        self.opened.set_result(None)
        return True

    def _frames(self, now: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, length = buffer[0], buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                (length,) = struct.unpack_from("!H", buffer, 2)
                start = 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                (length,) = struct.unpack_from("!Q", buffer, 2)
                start = 10
            if len(buffer) < start + length:
                return
            opcode = first & 0x0F
            if opcode == _TEXT:
                if first & 0x40 and self.inflate is not None:  # RSV1: compressed
                    payload = self.inflate.decompress(
                        bytes(buffer[start : start + length]) + b"\x00\x00\xff\xff"
                    )
                    head = _HEAD.match(payload, 0, 100)
                else:
                    head = _HEAD.match(bytes(buffer[start : start + 100]))
                if head:
                    ts = float(head.group(1))
                    self.tally.ts.append(ts)
                    self.tally.ms.append((now - ts) * 1000)
            elif opcode == _PING and self.transport is not None:
                self.transport.write(_client_frame(_PONG, bytes(buffer[start : start + length])))
            elif opcode == _CLOSE:
                code = struct.unpack_from("!H", buffer, start)[0] if length >= 2 else None
                if not self.stopping:
                    self.tally.closed_by_server.append(code)
                self.stopping = True
                if self.transport is not None:
                    self.transport.write(_client_frame(_CLOSE, struct.pack("!H", 1000)))
                    self.transport.close()
            del buffer[: start + length]

    def _fail(self, why: str) -> None:
        self.tally.failed.append(why)
        if not self.opened.done():
            self.opened.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self._fail(f"connection lost before the upgrade: {exc!r}")
        elif not self.stopping:
            self.tally.closed_by_server.append(None)  # gone without a close frame

    def close(self) -> None:
        self.stopping = True
        if self.transport is not None:
            self.transport.close()


async def _open(
    host: str, port: int, token: str, tally: Tally, gate: asyncio.Semaphore
) -> Browser | None:
    loop = asyncio.get_running_loop()
    async with gate:
        opened: asyncio.Future[None] = loop.create_future()
        try:
            _, browser = await loop.create_connection(
                lambda: Browser(f"{host}:{port}", token, tally, opened), host, port
            )
        except OSError as exc:
            tally.failed.append(repr(exc))
            return None
        await asyncio.wait_for(opened, 30)
        return browser


async def main(args: argparse.Namespace, tokens: list[str]) -> None:
    tally = Tally()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # not loop.add_signal_handler: it learns of the signal through the loop's wake-up
    # pipe, and a write to a full pipe loses it (seen with a saturated loop)
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stop.set))
    browsers = await asyncio.gather(
        *(_open(args.host, args.port, token, tally, gate) for token in tokens)
    )
    gc.freeze()  # the websockets stay till the end: no collection need walk them again
    print("READY", tally.opened, flush=True)
    await stop.wait()
    for browser in browsers:
        if browser is not None:
            browser.close()
    json.dump(
        {
            "opened": tally.opened,
            "deflate": tally.deflate,
            "failed": tally.failed[:5],
            "failed_count": len(tally.failed),
            "closed_by_server": tally.closed_by_server,
            "arrivals": [(ts, round(ms, 3)) for ts, ms in zip(tally.ts, tally.ms, strict=True)],
        },
        sys.stdout,
    )
    sys.stdout.flush()


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", required=True, help="file: one session token a line")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _parse()
    lines = Path(arguments.tokens).read_text().split()
    asyncio.run(main(arguments, lines[arguments.first : arguments.first + arguments.count]))
