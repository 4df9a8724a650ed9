"""ReplayAmiServer: plays AMI traffic recorded from the real sandbox Asterisk.

Only for machines where the sandbox cannot run (the demo says so loudly). It speaks
just enough AMI for the link to log in and stay up, answers every other action with
an error (a replay places no calls), and plays the recorded events with their
original timing, in a loop, renaming call ids each round so calls stay distinct.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

TRACES = Path(__file__).parent / "traces"
_ID_LINE = re.compile(r"^(?:Dest)?(?:Uniqueid|Linkedid): [^\r\n]+", re.MULTILINE)
EOL = "\r\n"


@dataclass(frozen=True)
class RecordedEvent:
    at: float  # seconds since the recording started
    frame: str  # the raw AMI frame without its blank-line terminator


def default_trace() -> Path:
    return TRACES / "inbound_queue_calls.jsonl"


def load_trace(path: Path) -> list[RecordedEvent]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            events.append(RecordedEvent(item["t"], item["frame"]))
    return events


def _frame(headers: list[tuple[str, str]]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in headers) + EOL + EOL).encode()


def _renamed(frame: str, round_no: int) -> bytes:
    if round_no:
        frame = _ID_LINE.sub(lambda m: f"{m.group(0)}-r{round_no}", frame)
    return (frame + EOL + EOL).encode()


def _parse_action(block: str) -> dict[str, str]:
    action = {}
    for line in block.split(EOL):
        key, sep, value = line.partition(":")
        if sep:
            action[key.strip().lower()] = value.strip()
    return action


class ReplayAmiServer:
    def __init__(self, trace: Path, *, pause_between_rounds: float = 3.0) -> None:
        self.events = load_trace(trace)
        self.pause = pause_between_rounds
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        log.warning(
            "AMI REPLAY server on %s:%s (recorded traffic, no live Asterisk)", self.host, self.port
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        player: asyncio.Task[None] | None = None
        try:
            writer.write(b"Asterisk Call Manager/9.0.0 (REPLAY)" + EOL.encode())
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action = _parse_action(block.decode("utf-8", "replace"))
                reply = [("Response", "Error"), ("Message", "Replay: actions are not carried out")]
                name = action.get("action", "").lower()
                if name == "login":
                    reply = [("Response", "Success"), ("Message", "Authentication accepted")]
                elif name == "ping":
                    reply = [("Response", "Success"), ("Ping", "Pong")]
                if "actionid" in action:
                    reply.insert(1, ("ActionID", action["actionid"]))
                writer.write(_frame(reply))
                if name == "login" and player is None:
                    writer.write(_frame([("Event", "FullyBooted"), ("Status", "Fully Booted")]))
                    player = asyncio.create_task(self._play(writer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if player is not None:
                player.cancel()
                await asyncio.gather(player, return_exceptions=True)
            writer.close()
            self._clients.discard(task)

    async def _play(self, writer: asyncio.StreamWriter) -> None:
        round_no = 0
        while True:
            loop = asyncio.get_running_loop()
            started = loop.time()
            for event in self.events:
                delay = started + event.at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(_renamed(event.frame, round_no))
                await writer.drain()
            round_no += 1
            await asyncio.sleep(self.pause)
