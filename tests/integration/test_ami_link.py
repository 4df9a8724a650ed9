"""The AMI link against the real sandbox Asterisk, through a proxy the test controls.

``AmiProxy`` forwards a loopback port to Asterisk's 5038 and can RESET every
connection (both sides aborted) or FREEZE it (TCP stays open, nothing more is
forwarded either way) or refuse new ones (``refusing``: the PBX unreachable),
and it records what the link wrote, so the tests can count actions on the wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import pytest

from ami.link import AmiLink, LinkState, LiveSnapshot
from ami.sandbox import AMI_PORT, SandboxStatus, sandbox_cli, sandbox_down, sandbox_up
from ami.sandbox.sipp import Caller, Phone
from ami.telephony import AmiTelephony
from callcenter.settings import Secret
from callcenter.telephony import OriginateRequest

pytestmark = pytest.mark.asterisk

USER = "callcenter"
SECRET = "callcenter-sandbox"


class AmiProxy:
    def __init__(self, upstream_port: int = AMI_PORT) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.sent = bytearray()  # everything the link wrote, over all connections
        self.connections = 0
        self.refusing = False  # new connections are reset at once (the PBX unreachable)
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._frozen: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.reset()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def reset(self) -> None:
        """Abort every connection, on both sides (RST)."""
        for client, upstream in self._pairs:
            client.transport.abort()
            upstream.transport.abort()
        self._pairs.clear()

    def freeze(self) -> None:
        """Forward nothing more on the current connections, and keep them open."""
        for client, _ in self._pairs:
            self._frozen.add(client)

    def count(self, action: str) -> int:
        return bytes(self.sent).count(f"Action: {action}\r\n".encode())

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            # Asterisk is down: refuse as it would, not leave the link waiting for a greeting
            self.connections -= 1
            writer.transport.abort()
            return
        self._pairs.append((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, writer, record=True)),
            asyncio.create_task(self._pump(up_reader, writer, writer, record=False)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._tasks.difference_update(pumps)
            writer.close()
            up_writer.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        *,
        record: bool,
    ) -> None:
        while data := await reader.read(65536):
            if record:
                self.sent += data
            if client in self._frozen:
                continue  # swallowed: the other side never hears of it
            writer.write(data)
            await writer.drain()
        writer.close()


class Watch:
    """Consumes the link's events; records state changes and resyncs with times."""

    def __init__(self, link: AmiLink) -> None:
        self.link = link
        self.states: list[tuple[float, LinkState]] = []
        self.snapshots: list[tuple[float, LiveSnapshot]] = []
        link.on_state_change = lambda state: self.states.append((time.monotonic(), state))
        link.on_resync = self._resynced
        self.events: list[str] = []
        self.task = asyncio.create_task(self._consume())

    async def _resynced(self, snapshot: LiveSnapshot) -> None:
        self.snapshots.append((time.monotonic(), snapshot))

    async def _consume(self) -> None:
        async for message in self.link.events():
            self.events.append(str(message.get("Event")))

    def state_since(self, state: LinkState, after: float) -> float | None:
        return next((t for t, s in self.states if s == state and t >= after), None)

    async def close(self) -> None:
        await self.link.stop()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


def link_to(port: int) -> AmiLink:
    return AmiLink("127.0.0.1", port, USER, Secret(SECRET))


async def test_a_reset_link_reconnects_and_resyncs_the_live_call(
    asterisk_sandbox: SandboxStatus,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    async with AmiProxy() as proxy:
        watch = Watch(link_to(proxy.port))
        await watch.link.start()
        try:
            await watch.link.wait_connected(10)
            await eventually(lambda: len(watch.snapshots) == 1, 10, "first resync")
            operator_phone("101", ring_ms=200)
            sipp_caller(did="101", cidnum="84950001001", cidname="Resync", hold_ms=15_000)
            await eventually(lambda: "BridgeEnter" in watch.events, 10, "the call is up")
            [channels] = await _live_channels(watch.link, "84950001001")
            linkedid = channels["Linkedid"]

            cut = time.monotonic()
            proxy.reset()
            await eventually(lambda: len(watch.snapshots) == 2, 10, "resync after the reset")
        finally:
            await watch.close()
    down = watch.state_since("disconnected", cut)
    up = watch.state_since("connected", cut)
    assert down is not None and up is not None
    print(f"reset: reconnected in {up - cut:.2f} s, resync {watch.snapshots[1][0] - cut:.2f} s")
    assert up - cut < 10
    snapshot = watch.snapshots[1][1]
    assert linkedid in snapshot.linkedids()
    assert any(c.get("CallerIDNum") == "84950001001" for c in snapshot.channels)
    assert proxy.connections == 2


async def _live_channels(link: AmiLink, number: str) -> list[dict[str, str]]:
    reply = await link.send({"Action": "CoreShowChannels"}, timeout=5)
    return [
        {k: str(v) for k, v in m.items()}
        for m in reply
        if m.get("Event") == "CoreShowChannel" and m.get("CallerIDNum") == number
    ]


async def test_a_frozen_link_is_dropped_and_its_originate_never_resent(
    asterisk_sandbox: SandboxStatus,
) -> None:
    async with AmiProxy() as proxy:
        watch = Watch(link_to(proxy.port))
        telephony = AmiTelephony(watch.link, originate_context="operators")
        await watch.link.start()
        try:
            await watch.link.wait_connected(10)
            await eventually(lambda: len(watch.snapshots) == 1, 10, "first resync")
            frozen = time.monotonic()
            proxy.freeze()
            # op199 has no endpoint: were it ever carried out, nothing would ring
            request = OriginateRequest(endpoint="op199", number="89160000000")
            with pytest.raises(ConnectionError, match="Originate"):
                await asyncio.wait_for(telephony.originate(request), 20)
            failed = time.monotonic() - frozen
            await eventually(lambda: len(watch.snapshots) == 2, 10, "resync after reconnect")
            reconnected = time.monotonic() - frozen
            assert watch.link.watchdog_trips == 1
            await asyncio.sleep(2)  # FullyBooted came; panoramisk would re-send now
            await watch.link.send({"Action": "Ping"}, timeout=5)
        finally:
            await watch.close()
    print(f"freeze: noticed in {failed:.1f} s, resynced after {reconnected:.1f} s")
    assert failed < 15
    assert proxy.count("Originate") == 1
    assert proxy.count("Login") == 2


async def test_manager_reload_leaves_a_working_link(asterisk_sandbox: SandboxStatus) -> None:
    link = link_to(AMI_PORT)
    watch = Watch(link)
    await link.start()
    try:
        await link.wait_connected(10)
        await asyncio.to_thread(sandbox_cli, "manager reload")
        await asyncio.sleep(1)
        await link.wait_connected(10)
        reply = await link.send({"Action": "Ping"}, timeout=5)
        assert reply.get("Response") == "Success"
    finally:
        await watch.close()


async def test_asterisk_restart_reconnects_within_ten_seconds(
    asterisk_sandbox: SandboxStatus,
) -> None:
    link = link_to(AMI_PORT)
    watch = Watch(link)
    await link.start()
    try:
        await link.wait_connected(10)
        await eventually(lambda: len(watch.snapshots) == 1, 10, "first resync")
        try:
            await asyncio.to_thread(sandbox_down)
            await eventually(lambda: not link.connected, 10, "the link notices")
            with pytest.raises(ConnectionError):
                await link.send({"Action": "Ping"})
            await asyncio.sleep(3)  # several failed attempts: the delay has grown
        finally:
            await asyncio.to_thread(sandbox_up, 60)
        booted = time.monotonic()
        await eventually(lambda: len(watch.snapshots) == 2, 10, "resync after restart")
        await link.wait_connected(1)
    finally:
        await watch.close()
    up = watch.state_since("connected", booted)
    took = watch.snapshots[1][0] - booted
    after = -1.0 if up is None else up - booted
    print(f"restart: connected {after:.2f} s after boot, resync {took:.2f} s")
    assert took < 10
    assert link.connections == 2
