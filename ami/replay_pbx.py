"""ReplayPbx: recorded AMI frames played on command, as one PBX every listener shares.

``ReplayAmiServer`` plays a whole trace to each connection from its start. This one
keeps a single timeline, like a real Asterisk: frames played while no listener is
connected are gone for it, but the channels they left up are still there, and
``CoreShowChannels`` lists them (with their age, state, dial plan application and
bridge, as Asterisk does); ``QueueStatus`` gives an empty list. A listener that
starts, or reconnects, after calls began can so learn them the way it does from the
real PBX. Login and Ping are answered, every other action is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from ami.replay import EOL, _frame, _parse_action

# the headers of an event that describe its channel, kept as the channel's row
_SNAPSHOT = (
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten",
    "Priority", "Uniqueid", "Linkedid",
)  # fmt: skip


def _headers(frame: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in frame.split(EOL):
        key, sep, value = line.partition(": ")
        if sep and key not in headers:
            headers[key] = value
    return headers


class _Channel:
    def __init__(self, headers: dict[str, str]) -> None:
        self.created = time.monotonic()
        self.row = {key: headers.get(key, "") for key in _SNAPSHOT}
        self.row.update(Application="", ApplicationData="", BridgeId="")

    def listed(self, action_id: str) -> list[tuple[str, str]]:
        seconds = int(time.monotonic() - self.created)
        duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        row = {**self.row, "Duration": duration}
        return [("Event", "CoreShowChannel"), ("ActionID", action_id), *row.items()]


class ReplayPbx:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.logins = 0
        self._channels: dict[str, _Channel] = {}  # uniqueid -> channel, oldest first
        self._listeners: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def live_linkedids(self) -> set[str]:
        return {channel.row["Linkedid"] for channel in self._channels.values()}

    async def play(self, frames: Iterable[str]) -> None:
        """Happen now: update the PBX's channels and send the frames to every listener."""
        data = b""
        for frame in frames:
            self._track(_headers(frame))
            data += (frame + EOL + EOL).encode()
        for writer in list(self._listeners):
            writer.write(data)
        for writer in list(self._listeners):
            try:
                await writer.drain()
            except ConnectionError:
                self._listeners.discard(writer)

    def _track(self, headers: dict[str, str]) -> None:
        event, uniqueid = headers.get("Event", ""), headers.get("Uniqueid", "")
        if event == "Newchannel" and uniqueid:
            self._channels[uniqueid] = _Channel(headers)
            return
        channel = self._channels.get(uniqueid)
        if channel is None:
            return
        if event == "Hangup":
            del self._channels[uniqueid]
            return
        channel.row.update({k: headers[k] for k in _SNAPSHOT if k in headers})
        if event == "Newexten":
            channel.row["Application"] = headers.get("Application", "")
            channel.row["ApplicationData"] = headers.get("AppData", "")
        elif event == "BridgeEnter":
            channel.row["BridgeId"] = headers.get("BridgeUniqueid", "")
        elif event == "BridgeLeave":
            channel.row["BridgeId"] = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            writer.write(b"Asterisk Call Manager/9.0.0 (REPLAY PBX)" + EOL.encode())
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action = _parse_action(block.decode("utf-8", "replace"))
                writer.write(b"".join(_frame(reply) for reply in self._answer(action)))
                if action.get("action", "").lower() == "login":
                    self.logins += 1
                    self._listeners.add(writer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._listeners.discard(writer)
            writer.close()
            self._tasks.discard(task)

    def _answer(self, action: dict[str, str]) -> list[list[tuple[str, str]]]:
        name, aid = action.get("action", "").lower(), action.get("actionid", "")
        ids = [("ActionID", aid)] if aid else []
        if name == "login":
            return [
                [("Response", "Success"), *ids, ("Message", "Authentication accepted")],
                [("Event", "FullyBooted"), ("Status", "Fully Booted")],
            ]
        if name == "ping":
            return [[("Response", "Success"), *ids, ("Ping", "Pong")]]
        if name == "queuestatus":
            return [
                [("Response", "Success"), *ids, ("EventList", "start")],
                [("Event", "QueueStatusComplete"), *ids, ("EventList", "Complete")],
            ]
        if name == "coreshowchannels":
            rows = [channel.listed(aid) for channel in self._channels.values()]
            count = ("ListItems", str(len(rows)))
            return [
                [("Response", "Success"), *ids, ("EventList", "start")],
                *rows,
                [("Event", "CoreShowChannelsComplete"), *ids, ("EventList", "Complete"), count],
            ]
        return [[("Response", "Error"), *ids, ("Message", "Replay: actions are not carried out")]]
