"""The AMI link: one supervised connection to Asterisk's manager interface.

panoramisk 1.4 supplies the message and action types and the protocol we
extend (``ami.protocol``); its ``Manager`` is not used because each part of
its connection handling is one of its known defects: a reconnect on a fixed
timer, a ping that never checks for a reply, and unanswered actions re-sent
after the next login. Here one task (the supervisor) owns the connection:

* connect and log in under a time limit; on any failure wait a capped,
  jittered, exponentially growing delay and try again, until ``stop``;
* once logged in, a watchdog sends ``Ping`` every ``ping_interval`` seconds
  and drops the connection when no reply comes within ``ping_timeout``
  (a frozen link is noticed within ``ping_interval + ping_timeout``);
* actions still waiting for their reply when the connection goes fail with
  ``ConnectionError`` and are never sent again: an Originate in flight has an
  unknown outcome, which only its caller can settle;
* after every login the live state is read again (QueueStatus, then
  CoreShowChannels) and handed to ``on_resync`` as a ``LiveSnapshot``; while
  Asterisk refuses (a manager may log in before every module is loaded) it is
  asked again.

Events go on a bounded queue (the protocol's only callback) and come out of
``events()``, which exactly one task consumes.

The resync contract: ``on_resync(snapshot)`` is awaited *by the consumer of
``events()``*, between two events, at the position in the event stream where
Asterisk completed the CoreShowChannels list. Every event yielded before it
happened before the snapshot; every event after it happened after. So the
call tracker can close, as ended while the link was down, every call it holds
open whose Linkedid is not in ``snapshot.linkedids()`` and that it has not
seen start since (no event after the snapshot has been processed yet). It
fires once per successful login, only when both lists were read completely; an
exception in it is logged and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from panoramisk.message import Message

from ami.actions import safe_action
from ami.protocol import AmiProtocol, ListAction
from callcenter.settings import Secret

log = logging.getLogger(__name__)

LinkState = Literal["connecting", "connected", "disconnected", "stopped"]

# a connection that stayed up this long resets the reconnect delay
STABLE_SECONDS = 10.0
# a resync Asterisk refused (still booting) is asked again after this, doubling
RESYNC_RETRY_SECONDS = 0.25
RESYNC_RETRY_MAX_SECONDS = 5.0
# how long the first try waits for both lists; later tries wait twice as long each
RESYNC_FIRST_WAIT_SECONDS = 5.0


class LoginRefused(ConnectionError):
    """Asterisk answered the Login action with an error (wrong user or secret)."""


@dataclass(frozen=True)
class LiveSnapshot:
    """What Asterisk says is live right after a (re)connect.

    Rows are the raw header dicts of the list events (``CoreShowChannel``,
    ``QueueParams``, ``QueueMember``, ``QueueEntry``); the translator reads them.
    """

    taken_at: datetime
    channels: tuple[dict[str, str], ...]
    queues: tuple[dict[str, str], ...]
    members: tuple[dict[str, str], ...]
    entries: tuple[dict[str, str], ...]

    def linkedids(self) -> set[str]:
        """Linkedids of the calls that have at least one live channel."""
        return {row["Linkedid"] for row in self.channels if row.get("Linkedid")}


ResyncHook = Callable[[LiveSnapshot], Awaitable[None]]
StateHook = Callable[[LinkState], None]


@dataclass
class _Resync:
    """A marker in the event queue: the list rows of one resync."""

    taken_at: datetime
    queue_status: list[dict[str, str]]
    channels: list[dict[str, str]]


class AmiLink:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: Secret,
        *,
        queue_size: int = 100_000,
        reconnect_seconds: float = 0.5,
        reconnect_max_seconds: float = 5.0,
        connect_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        resync_timeout: float = 30.0,
        on_resync: ResyncHook | None = None,
        on_state_change: StateHook | None = None,
    ) -> None:
        # checked now: a bad credential is a configuration error, not a network one
        safe_action({"Action": "Login", "Username": username, "Secret": secret.reveal()})
        self.host = host
        self.port = port
        self._username = username
        self._secret = secret
        self.reconnect_seconds = reconnect_seconds
        self.reconnect_max_seconds = reconnect_max_seconds
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.resync_timeout = resync_timeout
        self.on_resync = on_resync
        self.on_state_change = on_state_change

        self._queue: asyncio.Queue[Message | _Resync] = asyncio.Queue(maxsize=queue_size)
        # a resync marker that found the queue full, and the events queued before it
        self._pending_resync: _Resync | None = None
        self._pending_after = 0
        self._state: LinkState = "connecting"
        self._logged_in = asyncio.Event()
        self._protocol: AmiProtocol | None = None
        self._supervisor: asyncio.Task[None] | None = None

        self.asterisk_version: str | None = None
        self.last_error: str | None = None
        self.last_snapshot: LiveSnapshot | None = None
        self.connections = 0  # successful logins
        self.resyncs = 0  # snapshots delivered to the consumer
        self.watchdog_trips = 0
        self.dropped_events = 0
        self._bad_frames_before = 0  # of connections already closed

    # ------------------------------------------------------------ public API

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state == "connected"

    @property
    def bad_frames(self) -> int:
        current = self._protocol.bad_frames if self._protocol is not None else 0
        return self._bad_frames_before + current

    async def start(self) -> None:
        """Begin connecting; the link keeps reconnecting until ``stop``."""
        if self._state == "stopped":
            self._state = "connecting"
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-link")

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    async def stop(self) -> None:
        """Close the connection and stop reconnecting; waits for the supervisor."""
        self._set_state("stopped")
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)

    async def send(
        self,
        fields: Mapping[str, object],
        *,
        as_list: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one validated action; return its reply (a Message, or a list of them).

        ``as_list=None`` lets panoramisk decide whether the reply is a list
        (EventList, async Originate ...); ``False`` returns the first response.
        Raises ``ConnectionError`` when the link is down or goes down before
        the reply: the action may or may not have been carried out, and it is
        never sent again. ``TimeoutError`` after ``timeout`` seconds.
        """
        checked = safe_action(fields)
        protocol = self._protocol
        if not self.connected or protocol is None:
            raise ConnectionError("AMI link is not connected")
        future = protocol.send(checked, as_list=as_list)
        if timeout is None:
            return await future
        return await asyncio.wait_for(future, timeout)

    async def events(self) -> AsyncIterator[Message]:
        """AMI events in arrival order; runs ``on_resync`` in-band (see module doc)."""
        while True:
            if self._pending_resync is not None and self._pending_after <= 0:
                marker, self._pending_resync = self._pending_resync, None
                await self._deliver(marker)
            item = await self._queue.get()
            self._pending_after -= 1
            if isinstance(item, _Resync):
                await self._deliver(item)
                continue
            yield item

    # ------------------------------------------------------------ supervisor

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            self._set_state("connecting")
            try:
                protocol = await self._connect()
            except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%s: cannot connect (%s)", self.host, self.port, exc)
                self._set_state("disconnected")
                await asyncio.sleep(self._backoff(failures))
                failures += 1
                continue
            except Exception as exc:
                # a bug here must not end the supervisor: the link would stay down for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("AMI %s:%s: connecting failed", self.host, self.port)
                self._set_state("disconnected")
                await asyncio.sleep(self._backoff(failures))
                failures += 1
                continue
            up_since = loop.time()
            try:
                await self._run_connection(protocol)
            finally:
                self._forget(protocol)
            self._set_state("disconnected")
            if loop.time() - up_since >= STABLE_SECONDS:
                failures = 0
            log.warning("AMI link lost (%s); reconnecting", self.last_error)
            await asyncio.sleep(self._backoff(failures))
            failures += 1

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.reconnect_max_seconds, self.reconnect_seconds * 2.0**failures)
        # jitter: many links restarting together must not reconnect in lockstep
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - not cryptographic

    async def _connect(self) -> AmiProtocol:
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: AmiProtocol(self._enqueue), self.host, self.port),
            self.connect_timeout,
        )
        try:
            login = safe_action(
                {
                    "Action": "Login",
                    "Username": self._username,
                    "Secret": self._secret.reveal(),
                    "Events": "on",
                }
            )
            reply = await asyncio.wait_for(
                protocol.send(login, as_list=False), self.connect_timeout
            )
            if not reply.success:
                raise LoginRefused(f"AMI login refused: {reply.get('Message')}")
        except BaseException:
            protocol.abort()
            raise
        self.asterisk_version = protocol.version
        return protocol

    async def _run_connection(self, protocol: AmiProtocol) -> None:
        self._protocol = protocol
        self.connections += 1
        self._set_state("connected")
        log.info("AMI connected to %s:%s (%s)", self.host, self.port, protocol.version)
        helpers = [
            asyncio.create_task(self._watchdog(protocol), name="ami-watchdog"),
            asyncio.create_task(self._resync(protocol), name="ami-resync"),
        ]
        try:
            lost = await protocol.lost
            self.last_error = f"{type(lost).__name__}: {lost}" if lost else "closed"
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            protocol.close(ConnectionError("AMI link stopped"))

    def _forget(self, protocol: AmiProtocol) -> None:
        self._bad_frames_before += protocol.bad_frames
        if self._protocol is protocol:
            self._protocol = None

    async def _watchdog(self, protocol: AmiProtocol) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await asyncio.wait_for(protocol.send({"Action": "Ping"}), self.ping_timeout)
            except TimeoutError:
                self.watchdog_trips += 1
                log.error(
                    "AMI link silent: no reply to Ping within %.1f s; dropping it",
                    self.ping_timeout,
                )
                protocol.abort(TimeoutError(f"no reply to Ping within {self.ping_timeout} s"))
                return
            except ConnectionError:
                return

    async def _resync(self, protocol: AmiProtocol) -> None:
        """Read the live state; while Asterisk refuses (still booting) or leaves the
        lists unanswered while the link stays up, ask again: without a resync every call
        up across a restart would stay open for good."""
        delay = RESYNC_RETRY_SECONDS
        wait = min(RESYNC_FIRST_WAIT_SECONDS, self.resync_timeout)
        while not await self._read_live_state(protocol, wait):
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESYNC_RETRY_MAX_SECONDS)
            # a long list may just be slow: each try waits longer, up to resync_timeout
            wait = min(wait * 2, self.resync_timeout)

    async def _read_live_state(self, protocol: AmiProtocol, wait: float) -> bool:
        """One resync; the marker enters the event queue in-band. False when refused or
        unanswered within ``wait`` seconds (the connection still up)."""
        queue_status = ListAction({"Action": "QueueStatus"})

        def channels_complete(rows: list[dict[str, str]]) -> None:
            # runs inside the protocol, where the list ends in the stream; Asterisk
            # answers in order, so the QueueStatus list is complete by now
            queues = queue_status.future
            read = queues.done() and not queues.cancelled() and queues.exception() is None
            if read and isinstance(queues.result(), list):
                self._enqueue_item(_Resync(datetime.now(UTC), queue_status.rows, rows))

        channels = ListAction({"Action": "CoreShowChannels"}, channels_complete)
        try:
            replies = await asyncio.wait_for(
                asyncio.gather(protocol.send(queue_status), protocol.send(channels)), wait
            )
        except ConnectionError as exc:
            log.warning("AMI resync did not complete: %s", exc)
            return True  # the next connection resyncs
        except TimeoutError:
            log.warning("AMI resync unanswered within %.0f s (retrying)", wait)
            return False
        refused = [reply for reply in replies if not isinstance(reply, list)]
        if refused:
            # Asterisk logs a manager in before app_queue is loaded ("Invalid/unknown
            # command: QueueStatus"); no resync would leave every call open for good
            log.warning("AMI resync refused by Asterisk (retrying): %s", refused)
            return False
        return True

    # ----------------------------------------------------------------- queue

    def _enqueue(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # bounded on purpose: a stuck consumer must not eat all memory
            self.dropped_events += 1

    def _enqueue_item(self, marker: _Resync) -> None:
        try:
            self._queue.put_nowait(marker)
        except asyncio.QueueFull:
            # events are being lost already; the resync must not be: it goes out
            # after the events queued before it
            self._pending_resync = marker
            self._pending_after = self._queue.qsize()

    async def _deliver(self, marker: _Resync) -> None:
        rows: dict[str, list[dict[str, str]]] = {
            "CoreShowChannel": [],
            "QueueParams": [],
            "QueueMember": [],
            "QueueEntry": [],
        }
        for row in (*marker.queue_status, *marker.channels):
            bucket = rows.get(row.get("Event", ""))
            if bucket is not None:
                bucket.append(row)
        snapshot = LiveSnapshot(
            taken_at=marker.taken_at,
            channels=tuple(rows["CoreShowChannel"]),
            queues=tuple(rows["QueueParams"]),
            members=tuple(rows["QueueMember"]),
            entries=tuple(rows["QueueEntry"]),
        )
        self.last_snapshot = snapshot
        self.resyncs += 1
        counts = len(snapshot.channels), len(snapshot.entries)
        log.info("AMI resync: %d channels, %d callers queued", *counts)
        if self.on_resync is not None:
            try:
                await self.on_resync(snapshot)
            except Exception:
                log.exception("on_resync failed")

    def _set_state(self, state: LinkState) -> None:
        if self._state == state or (self._state == "stopped" and state != "stopped"):
            return
        self._state = state
        if state == "connected":
            self._logged_in.set()
        else:
            self._logged_in.clear()
        if self.on_state_change is not None:
            try:
                self.on_state_change(state)
            except Exception:
                log.exception("on_state_change failed")
