"""The websocket hub: delivers what the domain publishes to the browsers of its users.

Every message gets a sequence number (one counter per hub) and is kept in a short
per-user history, so a browser that reconnects with the last ``seq`` it saw gets
exactly what it missed; when that is older than the history it gets ``resync``
and reloads its state. Each connection has its own bounded outbox and writer task:
``publish`` never waits, and a connection that cannot keep up is closed (it
reconnects and catches up) instead of slowing anyone else down.

A state picture (the wallboard) goes to every leader at once: it is encoded to UTF-8
once and sent as it is, and the websockets are not compressed. permessage-deflate,
which browsers ask for, would compress every picture again for every connection and
keep some 300 KB of zlib state per connection (``python -m bench wallboard_fanout``,
1,000 supervisors, 40 KB pictures twice a second: 405 MB and p50 205 ms with it,
109 MB and 15 ms without; a supervisor's browser then reads about 80 KB/s).

A user with a phone also gets, on every connect after the catch-up, ``calls.current``:
what rings or talks on their phone now (``calls_on``). Missed messages cannot be told
after a restart of the server (a new hub has no history) or a page load (a new page
has drawn nothing), but the calls still ring; the console draws the ones it does not
show and updates the ones it does. It is sent again to everyone when the telephony
state becomes known (``refresh_calls``, after the AMI link's resync).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

log = logging.getLogger(__name__)

HISTORY_PER_USER = 200
OUTBOX_SIZE = 500
TOO_SLOW = 4000  # websocket close code: the client should reconnect and catch up
NO_CALLS: dict[str, Any] = {"known": False, "calls": []}

CallsOnDevice = Callable[[str], dict[str, Any]]


@dataclass(eq=False)  # compared and hashed by identity: kept in sets
class _Connection:
    user_id: int
    ws: web.WebSocketResponse
    role: str = ""
    device: str | None = None  # the user's phone: they get its current calls
    session_key: str | None = None  # the sign-in it belongs to (None: an API token)
    # str: a message of this user's; bytes: a state picture, encoded once for everyone
    outbox: asyncio.Queue[str | bytes] = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))
    too_slow: bool = False


@dataclass
class _History:
    messages: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=HISTORY_PER_USER))
    forgotten_up_to: int = 0  # highest seq pushed out of ``messages``


class Hub:
    def __init__(self, calls_on: CallsOnDevice | None = None) -> None:
        self.calls_on = calls_on
        self._expiring: set[asyncio.Task[None]] = set()
        # a client that saw another hub's numbers (the server restarted) must resync
        self.hub_id = secrets.token_hex(6)
        self._seq = 0
        self._history: dict[int, _History] = {}
        self._connections: dict[int, set[_Connection]] = {}
        # the latest picture of each kind of state, sent to every (re)connecting reader
        self._states: dict[str, tuple[frozenset[str], bytes]] = {}
        self.dropped_slow_clients = 0

    # -- Notifier ----------------------------------------------------------------
    def publish(self, user_ids: Collection[int], type_: str, payload: dict[str, Any]) -> None:
        for user_id in user_ids:
            self._seq += 1
            text = json.dumps(
                {"type": type_, "seq": self._seq, "ts": time.time(), "data": payload},
                ensure_ascii=False,
                default=str,
            )
            history = self._history.setdefault(user_id, _History())
            if len(history.messages) == history.messages.maxlen:
                history.forgotten_up_to = history.messages[0][0]
            history.messages.append((self._seq, text))
            for connection in self._connections.get(user_id, ()):
                self._offer(connection, text)

    def publish_state(self, roles: Collection[str], type_: str, payload: dict[str, Any]) -> None:
        """A picture that replaces the previous one (the wallboard) for every connected
        user of these roles: encoded once, kept in no history (seq 0: nothing to catch up
        on but the latest, which each new connection gets at once)."""
        data = json.dumps(
            {"type": type_, "seq": 0, "ts": time.time(), "data": payload},
            ensure_ascii=False,
            default=str,
        ).encode()
        wanted = frozenset(roles)
        self._states[type_] = (wanted, data)
        for connections in self._connections.values():
            for connection in connections:
                if connection.role in wanted:
                    self._offer(connection, data)

    def calls_of(self, device: str | None) -> dict[str, Any]:
        """The calls ringing or talking on ``device`` now (none without telephony)."""
        if device is None or self.calls_on is None:
            return NO_CALLS
        return self.calls_on(device)

    def refresh_calls(self) -> None:
        """Send every connected phone's user its current calls again."""
        messages: dict[str, str] = {}
        for connections in self._connections.values():
            for connection in connections:
                device = connection.device
                if device is not None and self.calls_on is not None:
                    if device not in messages:
                        messages[device] = self._calls_message(device)
                    self._offer(connection, messages[device])

    def _calls_message(self, device: str) -> str:
        # seq 0: a picture of now, kept in no history (a reconnect gets a fresh one)
        return json.dumps(
            {"type": "calls.current", "seq": 0, "ts": time.time(), "data": self.calls_of(device)},
            ensure_ascii=False,
            default=str,
        )

    # -- connections -------------------------------------------------------------
    def _offer(self, connection: _Connection, message: str | bytes) -> None:
        try:
            connection.outbox.put_nowait(message)
        except asyncio.QueueFull:
            if not connection.too_slow:
                connection.too_slow = True
                self.dropped_slow_clients += 1
                log.warning("websocket of user %s cannot keep up; closing it", connection.user_id)

    def _missed(self, user_id: int, hub_id: str | None, last_seq: int | None) -> list[str] | None:
        """Messages after ``last_seq``; None when they cannot be told (resync instead)."""
        history = self._history.get(user_id, _History())
        if last_seq is None:
            return []
        if hub_id != self.hub_id or last_seq < history.forgotten_up_to:
            return None
        return [text for seq, text in history.messages if seq > last_seq]

    async def serve(
        self,
        request: web.Request,
        user_id: int,
        role: str = "",
        device: str | None = None,
        *,
        session_key: str | None = None,
        ends_at: datetime | None = None,
    ) -> web.WebSocketResponse:
        """``session_key`` / ``ends_at``: the sign-in this channel lives on; it is closed
        when the session ends or signs out (``end_session``), like any page would be."""
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024, compress=False)
        await ws.prepare(request)
        last = request.query.get("last_seq", "")
        connection = _Connection(user_id, ws, role, device, session_key)
        expiry = None
        if ends_at is not None:
            seconds = max(0.0, (ends_at - datetime.now(UTC)).total_seconds())
            expiry = asyncio.get_running_loop().call_later(seconds, self._expire, connection)
        # registering and reading the history with no await in between: every message
        # is either in ``missed`` or in the outbox, never in both and never in neither;
        # the current calls are those of the moment the last missed message went out
        self._connections.setdefault(user_id, set()).add(connection)
        missed = self._missed(
            user_id, request.query.get("hub"), int(last) if last.isdigit() else None
        )
        calls = None
        if device is not None and self.calls_on is not None:
            calls = self._calls_message(device)
        writer = asyncio.create_task(self._write(connection, missed, calls), name=f"ws-{user_id}")
        try:
            async for _message in ws:
                pass  # clients only listen; aiohttp answers their pings
        finally:
            if expiry is not None:
                expiry.cancel()
            self._connections[user_id].discard(connection)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    async def _write(
        self, connection: _Connection, missed: list[str] | None, calls: str | None
    ) -> None:
        ws = connection.ws
        now = time.time()
        await ws.send_str(
            json.dumps({"type": "hello", "seq": self._seq, "ts": now, "data": {"hub": self.hub_id}})
        )
        if missed is None:
            await ws.send_str(json.dumps({"type": "resync", "seq": self._seq, "ts": now}))
        for text in missed or ():
            await ws.send_str(text)
        if calls is not None:
            await ws.send_str(calls)
        for roles, data in list(self._states.values()):
            if connection.role in roles:
                await ws.send_frame(data, WSMsgType.TEXT)
        while True:
            message = await connection.outbox.get()
            if connection.too_slow:
                await ws.close(code=TOO_SLOW, message=b"too slow; reconnect")
                return
            if isinstance(message, bytes):
                await ws.send_frame(message, WSMsgType.TEXT)
            else:
                await ws.send_str(message)

    async def disconnect(self, user_id: int, *, keep_session: str | None = None) -> None:
        """Close a user's live channels (deactivated, or signed out by a password change
        or reset), but those of ``keep_session``; their reconnect then fails the session
        check."""
        for connection in list(self._connections.get(user_id, ())):
            if keep_session is None or connection.session_key != keep_session:
                await _end(connection, b"signed out")

    def _expire(self, connection: _Connection) -> None:
        task = asyncio.create_task(_end(connection, b"session expired"))
        self._expiring.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._expiring.discard)

    async def end_session(self, session_key: str) -> None:
        """Close the live channels of one sign-in (its user signed out there)."""
        for connections in list(self._connections.values()):
            for connection in list(connections):
                if connection.session_key == session_key:
                    await _end(connection, b"signed out")

    async def close(self) -> None:
        for connections in self._connections.values():
            for connection in list(connections):
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")


async def _end(connection: _Connection, why: bytes) -> None:
    # 1008: the browser's reconnect then meets the session check and goes to sign in
    await connection.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=why)
