"""The AMI link: a panoramisk connection whose callbacks only enqueue.

panoramisk runs event callbacks inside ``data_received``; an exception there
drops the connection, and slow work there stalls every read. So the only
callback here puts the raw message on a bounded queue, and the consumer
(``events()``) is whoever owns the link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from panoramisk import Manager
from panoramisk.message import Message

from ami.actions import safe_action
from callcenter.settings import Secret

log = logging.getLogger(__name__)

LinkState = Literal["connecting", "connected", "disconnected", "stopped"]


class AmiLink:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: Secret,
        *,
        queue_size: int = 100_000,
        reconnect_seconds: float = 2.0,
    ) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=queue_size)
        self.state: LinkState = "connecting"
        self.dropped_events = 0
        self._logged_in = asyncio.Event()
        self._manager = Manager(
            host=host,
            port=port,
            username=username,
            secret=secret.reveal(),
            reconnect_timeout=reconnect_seconds,
            ping_delay=10,
            ping_interval=10,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            log=logging.getLogger("ami.panoramisk"),
        )
        self._manager.register_event("*", self._enqueue)

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    async def start(self) -> None:
        """Begin connecting; panoramisk keeps reconnecting until ``stop``."""
        self._manager.loop = asyncio.get_running_loop()
        self._manager.connect()

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    async def stop(self) -> None:
        self.state = "stopped"
        # panoramisk schedules reconnects from connection_lost and from failed
        # connects; disarm both before closing so nothing dials out after stop
        self._manager.connection_lost = lambda exc: None
        self._manager.connect = lambda *args, **kwargs: None
        self._manager.close()

    async def send(self, fields: Mapping[str, object]) -> Any:
        """Send one validated action; returns panoramisk's response (or list of them)."""
        if not self.connected:
            raise ConnectionError("AMI link is not connected")
        return await self._manager.send_action(safe_action(fields))

    async def events(self) -> AsyncIterator[Message]:
        while True:
            yield await self._queue.get()

    def _enqueue(self, _manager: Manager, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # bounded on purpose: a stuck consumer must not eat all memory
            self.dropped_events += 1

    def _on_login(self, _manager: Manager) -> None:
        self.state = "connected"
        self._logged_in.set()
        log.info("AMI connected")

    def _on_disconnect(self, _manager: Manager, exc: object) -> None:
        if self.state != "stopped":
            self.state = "disconnected"
            self._logged_in.clear()
            log.warning("AMI link lost; reconnecting")
