"""The server side of the wallboard_fanout benchmark, run as its own process.

The real web application (``create_app``: its ``/ws`` route, the session-cookie
middleware, the ``Hub``) and the real ``WallboardFeed`` over a real ``Wallboard``;
only the call tracker is replaced by ``Floor``, which makes up inbound queue calls
and tells the wallboard about them the way the tracker does. Prints ``READY`` once
it listens; on SIGTERM prints one JSON object with what it pushed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import heapq
import itertools
import json
import random
import re
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ami.link import AmiLink
from ami.telephony import AmiTelephony
from bench.russian_names import People
from callcenter import database
from callcenter.app.collector import tune_for_serving
from callcenter.devices import DeviceDirectory
from callcenter.settings import Secret, load_settings
from callcenter.tracking import CallObserver, TrackedCall
from callcenter.wallboard import Wallboard
from callcenter.wallboard_feed import WallboardFeed
from web.app import create_app
from web.hub import Hub
from web.state import WebServices
from web.wallboard_pages import WALLBOARD

QUEUES = ("sales", "support", "billing")
# uniform: an operator's phone rings this long before answering
RING_SECONDS = (1.0, 2.0)
TALK_SECONDS = (2.0, 4.5)
PATIENCE_SECONDS = (5.0, 30.0)  # a waiting caller hangs up after this
_TS = re.compile(rb'"ts": ([0-9.]+)')


# ------------------------------------------------------------------ the floor


@dataclass
class Floor:
    """Inbound queue calls arriving at ``rate`` a second (Poisson), answered by the
    first free operator, told to ``observer`` in the tracker's order.

    With the default durations a call keeps its operator 4.75 s on average, so 100
    operators handle about 21 calls a second: the floor is 95% busy, callers queue
    in the bursts and some give up (abandoned calls), and the picture carries
    talking, ringing and waiting calls at once.
    """

    observer: CallObserver
    devices: list[str]
    rate: float
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    live: dict[str, TrackedCall] = field(default_factory=dict)
    started: int = 0
    answered: int = 0
    abandoned: int = 0
    _free: list[str] = field(default_factory=list)
    _waiting: deque[str] = field(default_factory=deque)
    _due: list[tuple[float, int, str, str]] = field(default_factory=list)  # (when, n, what, id)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _people: People = field(default_factory=lambda: People(seed=5))

    def __post_init__(self) -> None:
        self._free = list(self.devices)

    def live_calls(self) -> list[TrackedCall]:
        return list(self.live.values())

    def _later(self, seconds: float, what: str, linkedid: str) -> None:
        heapq.heappush(self._due, (time.monotonic() + seconds, next(self._order), what, linkedid))

    def _arrive(self, n: int) -> None:
        person = self._people.person()
        name = " ".join(p for p in (person.last_name, person.first_name) if p)
        call = TrackedCall(
            linkedid=f"1700000000.{n}",
            direction="inbound",
            started_at=datetime.now(UTC),
            caller_number=f"+79{self.rng.randrange(10**9):09d}",
            # most callers are known clients: the lookup names them
            caller_name=name if self.rng.random() < 0.8 else "",
            did="+74951234567",
            queue=self.rng.choice(QUEUES),
        )
        self.live[call.linkedid] = call
        self.started += 1
        self.observer.call_started(call)
        self._waiting.append(call.linkedid)
        self._later(self.rng.uniform(*PATIENCE_SECONDS), "give_up", call.linkedid)

    def _assign(self) -> None:
        while self._waiting and self._free:
            linkedid = self._waiting.popleft()
            device = self._free.pop(self.rng.randrange(len(self._free)))
            call = replace(self.live[linkedid], rang_devices=(device,), ringing_devices=(device,))
            self.live[linkedid] = call
            self.observer.device_ringing(call, device)
            self._later(self.rng.uniform(*RING_SECONDS), "answer", linkedid)

    def _step(self, what: str, linkedid: str) -> None:
        call = self.live.get(linkedid)
        if call is None:
            return
        now = datetime.now(UTC)
        if what == "answer":
            device = call.ringing_devices[0]
            call = replace(call, ringing_devices=(), answered_device=device, answered_at=now)
            self.live[linkedid] = call
            self.answered += 1
            self.observer.call_answered(call, device)
            self._later(self.rng.uniform(*TALK_SECONDS), "hang_up", linkedid)
        elif what == "hang_up":
            del self.live[linkedid]
            self.observer.call_ended(replace(call, ended_at=now, result="answered"))
            assert call.answered_device is not None
            self._free.append(call.answered_device)
        elif what == "give_up" and call.answered_device is None and not call.ringing_devices:
            del self.live[linkedid]
            self._waiting.remove(linkedid)
            self.abandoned += 1
            self.observer.call_ended(replace(call, ended_at=now, result="abandoned"))

    async def run(self) -> None:
        """Until cancelled."""
        numbers = itertools.count(1)
        next_arrival = time.monotonic()
        while True:
            now = time.monotonic()
            while next_arrival <= now:
                self._arrive(next(numbers))
                next_arrival += self.rng.expovariate(self.rate)
            while self._due and self._due[0][0] <= now:
                _, _, what, linkedid = heapq.heappop(self._due)
                self._step(what, linkedid)
            self._assign()
            await asyncio.sleep(0.01)


# -------------------------------------------------------------------- probes


@dataclass
class _Ended:
    user_id: int
    opened_at: float
    closed_at: float
    close_code: int | None
    error: str


class ProbedHub(Hub):
    """The product's hub, noting each picture it encodes and each websocket that ends."""

    def __init__(self) -> None:
        super().__init__()
        self.pictures: list[tuple[float, int, float]] = []  # (ts, bytes, ms publishing)
        self.ended: list[_Ended] = []

    def publish_state(self, roles: Any, type_: str, payload: dict[str, Any]) -> None:
        began = time.perf_counter()
        super().publish_state(roles, type_, payload)
        spent = (time.perf_counter() - began) * 1000
        data = self._states[type_][1]
        if isinstance(data, str):  # a hub that keeps its pictures as text
            data = data.encode()
        found = _TS.search(data, 0, 100)
        if found:
            self.pictures.append((float(found.group(1)), len(data), spent))

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
        opened = time.time()
        ws: web.WebSocketResponse | None = None
        try:
            ws = await super().serve(
                request, user_id, role, device, session_key=session_key, ends_at=ends_at
            )
            return ws
        finally:
            error = ws.exception() if ws is not None else None
            self.ended.append(
                _Ended(
                    user_id,
                    opened,
                    time.time(),
                    ws.close_code if ws is not None else None,
                    repr(error) if error else "",
                )
            )

    def connection_state(self, user_id: int) -> list[dict[str, Any]]:
        """What the hub still holds for the live websockets of one user."""
        states = []
        for connection in self._connections.get(user_id, ()):
            # a probe may look behind aiohttp's back: what sits unsent in user space
            transport = connection.ws._req.transport if connection.ws._req else None
            states.append(
                {
                    "outbox": connection.outbox.qsize(),
                    "too_slow": connection.too_slow,
                    "write_buffer_bytes": transport.get_write_buffer_size() if transport else None,
                }
            )
        return states


class GcPauses:
    """How long each garbage collection of the oldest generation stopped the process."""

    def __init__(self) -> None:
        self.full: list[tuple[float, float]] = []  # (wall time it began, ms)
        self.young = 0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif info["generation"] == 2:
            spent = time.perf_counter() - self._began
            self.full.append((time.time() - spent, spent * 1000))
        else:
            self.young += 1


async def _loop_lag(gaps: list[float]) -> None:
    """How late a 10 ms sleep wakes up: the event loop's stalls, in ms."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.01)
        gaps.append((time.perf_counter() - began) * 1000 - 10)


# ---------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> None:
    settings = load_settings(
        {
            "CALLCENTER_HTTP_PORT": str(args.port),
            "CALLCENTER_DATA_DIR": args.data_dir,
            "CALLCENTER_LOG_LEVEL": "WARNING",
        }
    )
    engine = database.make_engine(args.database_url, pool_pre_ping=False)
    db = database.make_sessionmaker(engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # not loop.add_signal_handler: it learns of the signal through the loop's wake-up
    # pipe, and a write to a full pipe loses it (seen with a saturated loop)
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stop.set))
    hub = ProbedHub()
    directory = DeviceDirectory(db)
    await directory.reload()
    wallboard = Wallboard(zone=ZoneInfo(settings.time_zone), sla_seconds=20)
    floor = Floor(wallboard, [op.device for op in directory.everyone()], args.rate)
    feed = WallboardFeed(wallboard, floor.live_calls, directory.everyone, db, hub)
    # a link that is never started: the wallboard needs no telephony
    telephony = AmiTelephony(
        AmiLink("127.0.0.1", 1, "nobody", Secret("nothing")), originate_context="operators"
    )
    app = create_app(WebServices(settings, db, telephony), hub)
    app[WALLBOARD] = feed
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=2048)
    await site.start()
    if not args.untuned_gc:
        tune_for_serving()  # as ``callcenter serve`` does once it is up
    gaps: list[float] = []
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    live_counts: list[int] = []
    async with asyncio.TaskGroup() as tasks:
        floor_task = tasks.create_task(floor.run(), name="floor")
        feed_task = tasks.create_task(feed.run(), name="wallboard")
        lag_task = tasks.create_task(_loop_lag(gaps), name="loop-lag")
        print("READY", flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            live_counts.append(len(floor.live))
        stopping_at = time.time()
        stalled = hub.connection_state(args.stalled_user_id)
        for task in (floor_task, feed_task, lag_task):
            task.cancel()
    await site.stop()
    await hub.close()
    await runner.cleanup()
    await engine.dispose()
    json.dump(
        {
            "pictures": hub.pictures,
            # the hub closes every websocket when the server stops: those do not count
            "ended": [vars(e) for e in hub.ended if e.closed_at < stopping_at],
            "dropped_slow_clients": hub.dropped_slow_clients,
            "stalled_at_end": stalled,
            "loop_lag_max_ms": max(gaps, default=0.0),
            "gc_full": pauses.full,
            "gc_young": pauses.young,
            "gc_tracked_objects": len(gc.get_objects()),
            "live_calls": live_counts,
            "calls": {
                "started": floor.started,
                "answered": floor.answered,
                "abandoned": floor.abandoned,
            },
        },
        sys.stdout,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--stalled-user-id", type=int, default=0)
    parser.add_argument("--untuned-gc", action="store_true")
    asyncio.run(main(parser.parse_args()))
