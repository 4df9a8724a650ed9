"""Longest event-loop stall while the AMI link reads a multi-megabyte CoreShowChannels.

A stand-in for Asterisk (a forked process) on loopback answers Login, Ping and QueueStatus,
and CoreShowChannels with N channels (about 480 bytes each: 11,000 make 5 MB).
The same answer is read by our AmiLink (its resync after login, up to the
snapshot handed to ``on_resync``) and by stock panoramisk 1.4 (Manager and
``send_action``). A task that only yields measures the longest gap between two
of its turns: the stall every other coroutine (websocket pushes, the dialer)
would suffer. Target: under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk import Manager

from ami.link import AmiLink, LiveSnapshot
from callcenter.settings import Secret

EOL = b"\r\n"


def _frame(*headers: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}".encode() + EOL for k, v in headers) + EOL


def _channels(count: int, action_id: str) -> bytes:
    rows = []
    for i in range(count):
        rows.append(
            _frame(
                ("Event", "CoreShowChannel"),
                ("ActionID", action_id),
                ("Channel", f"PJSIP/trunk-{i:08x}"),
                ("ChannelState", "6"),
                ("ChannelStateDesc", "Up"),
                ("CallerIDNum", f"8495{i:07d}"),
                ("CallerIDName", "Иван Петров"),
                ("ConnectedLineNum", "101"),
                ("ConnectedLineName", "<unknown>"),
                ("Language", "ru"),
                ("AccountCode", ""),
                ("Context", "from-trunk"),
                ("Exten", "74951112233"),
                ("Priority", "5"),
                ("Uniqueid", f"1700000000.{i}"),
                ("Linkedid", f"1700000000.{i - i % 2}"),
                ("Application", "Queue"),
                ("ApplicationData", "support,,,,300"),
                ("Duration", "00:01:23"),
                ("BridgeId", f"0d5a6a3e-1b0c-4d4e-9e8a-{i:012d}"),
            )
        )
    return (
        _frame(("Response", "Success"), ("ActionID", action_id), ("EventList", "start"))
        + b"".join(rows)
        + _frame(("Event", "CoreShowChannelsComplete"), ("ActionID", action_id))
    )


class _FakeAsterisk:
    """A forked process with blocking sockets: the server's work stays off the measured
    process (a thread would compete for the GIL and show up as loop stalls)."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.payload = _channels(channels, "{action_id}")
        self.response_bytes = len(self.payload)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.process = multiprocessing.get_context("fork").Process(target=self._serve)
        self.process.start()
        self.sock.close()  # the child listens

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        buffer = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    block, _, buffer = buffer.partition(b"\r\n\r\n")
                    fields = dict(
                        line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                    )
                    aid = fields.get("ActionID", "")
                    name = fields.get("Action", "").lower()
                    if name == "coreshowchannels":
                        payload = self.payload.replace(b"{action_id}", aid.encode())
                    elif name == "queuestatus":
                        payload = _frame(
                            ("Response", "Success"), ("ActionID", aid), ("EventList", "start")
                        ) + _frame(("Event", "QueueStatusComplete"), ("ActionID", aid))
                    else:
                        payload = _frame(("Response", "Success"), ("ActionID", aid))
                    conn.sendall(payload)

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


async def _max_stall(work: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(longest gap between the ticker's turns, seconds the work took)."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0)
            worst = max(worst, time.perf_counter() - before)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        await work()
    finally:
        done = True
        await tick
    return worst, time.perf_counter() - started


async def _ours(port: int) -> tuple[float, float, int]:
    got: asyncio.Future[LiveSnapshot] = asyncio.get_running_loop().create_future()

    async def resynced(snapshot: LiveSnapshot) -> None:
        got.set_result(snapshot)

    link = AmiLink("127.0.0.1", port, "bench", Secret("bench"), on_resync=resynced)

    async def consume() -> None:
        async for _ in link.events():
            pass

    consumer = asyncio.create_task(consume())

    async def work() -> None:
        await link.start()
        await asyncio.wait_for(got, 120)

    try:
        stall, took = await _max_stall(work)
    finally:
        await link.stop()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    return stall, took, len(got.result().channels)


async def _stock(port: int) -> tuple[float, float, int]:
    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",  # noqa: S106 - the stand-in accepts anything
        loop=asyncio.get_running_loop(),
        ping_delay=3600,
    )
    logged_in = asyncio.Event()
    manager.on_login = lambda _manager: logged_in.set()
    manager.connect()
    await asyncio.wait_for(logged_in.wait(), 10)
    reply: list[Any] = []

    async def work() -> None:
        reply.extend(
            await asyncio.wait_for(manager.send_action({"Action": "CoreShowChannels"}), 120)
        )

    try:
        stall, took = await _max_stall(work)
    finally:
        manager.close()
    return stall, took, len(reply) - 2


def run(args: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench ami_stall", description=__doc__)
    parser.add_argument("--channels", type=int, default=11_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-stock", action="store_true", help="skip stock panoramisk")
    options = parser.parse_args(args)
    server = _FakeAsterisk(options.channels)
    try:
        ours = [asyncio.run(_ours(server.port)) for _ in range(options.rounds)]
        stock = [] if options.no_stock else [asyncio.run(_stock(server.port))]
    finally:
        server.close()
    for label, results in (("ours", ours), ("stock panoramisk", stock)):
        for stall, took, count in results:
            print(
                f"{label}: {count} channels, max stall {stall * 1000:.1f} ms, read in {took:.2f} s"
            )
    figures: dict[str, Any] = {
        "channels": options.channels,
        "response_mb": round(server.response_bytes / 1e6, 2),
        "max_stall_ms": round(max(s for s, _, _ in ours) * 1000, 1),
        "snapshot_s": round(min(t for _, t, _ in ours), 2),
    }
    if stock:
        figures["stock_panoramisk_max_stall_ms"] = round(stock[0][0] * 1000, 1)
        figures["stock_panoramisk_s"] = round(stock[0][1], 2)
    return figures
