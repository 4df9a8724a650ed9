"""Screen-pop latency under load: sipp calls into the sandbox Asterisk, pops to websockets.

1,000,000 contacts in a fresh embedded PostgreSQL; `serve` runs in this process;
10 operators (sipp phones that ring 1 s, then talk until the caller hangs up 2 s
later), each watched by ``--per-user`` websocket connections in a separate client
process (200 in all);
sipp places ``--rate`` calls/s for ``--seconds`` from known clients' numbers,
dialled straight to the operators' extensions, so every call rings at once.

Figures:
* server side: the AMI frame that rang a phone was read -> the websocket frame
  of its ``call.ringing`` was written (every connection counted);
* end to end: sipp sent the INVITE (its message log) -> the client process
  received ``call.ringing`` (wall clocks of one machine).
Needs root and the sandbox (`callcenter asterisk-sandbox up`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ami import sandbox
from ami.link import AmiLink
from ami.sandbox.sipp import Caller, CallSpec, Phone
from ami.translate import translate as ami_translate
from bench.callerid_lookup import _fill
from callcenter import database
from callcenter.app import inbound as inbound_module
from callcenter.app import runtime
from callcenter.embedded_db import embedded_postgres
from callcenter.migrate import upgrade
from callcenter.screen_pop import ScreenPops
from callcenter.settings import load_settings
from callcenter.users import add_user
from web import hub as hub_module

OPERATORS = [str(n) for n in range(101, 111)]
PASSWORD = "bench-password"  # noqa: S105 - made-up accounts in a throw-away database

# -- server-side probes --------------------------------------------------------
_read_at: dict[int, float] = {}  # id(message) -> when its frame was read
_ring_read_at: dict[tuple[str, str], float] = {}  # (linkedid, device) -> that frame's time
_server_ms: list[float] = []
_current_read: list[float] = [0.0]


def _install_probes() -> None:
    original_enqueue = AmiLink._enqueue
    original_translate = ami_translate

    def enqueue(self: AmiLink, message: Any) -> None:
        message.bench_read_at = time.perf_counter()
        original_enqueue(self, message)

    def translate(message: Any, received_at: datetime) -> Any:
        _current_read[0] = getattr(message, "bench_read_at", time.perf_counter())
        return original_translate(message, received_at)

    class ProbedPops(ScreenPops):
        def device_ringing(self, call: Any, device: str) -> None:
            _ring_read_at.setdefault((call.linkedid, device), _current_read[0])
            super().device_ringing(call, device)

    class ProbedHub(hub_module.Hub):
        async def _write(self, connection: Any, missed: Any, calls: Any) -> None:
            ws = connection.ws
            original_send = ws.send_str

            async def send_str(text: str, *args: Any, **kwargs: Any) -> None:
                await original_send(text, *args, **kwargs)
                if '"call.ringing"' in text:
                    data = json.loads(text)["data"]
                    read = _ring_read_at.get((data["linkedid"], data["device"]))
                    if read is not None:
                        _server_ms.append((time.perf_counter() - read) * 1000)

            ws.send_str = send_str
            await super()._write(connection, missed, calls)

    # the probes replace module attributes at run time: that is the point of a probe
    setattr(AmiLink, "_enqueue", enqueue)  # noqa: B010
    setattr(inbound_module, "translate", translate)  # noqa: B010
    setattr(inbound_module, "ScreenPops", ProbedPops)  # noqa: B010
    setattr(runtime, "Hub", ProbedHub)  # noqa: B010


# -- helpers -----------------------------------------------------------------------
_BLOCK = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$", re.MULTILINE)
_FROM_USER = re.compile(r"^From: .*?<sip:([^@>]+)@", re.MULTILINE)


def invite_times(message_log: Path) -> dict[str, float]:
    """Caller number -> wall time sipp sent its first INVITE."""
    text = message_log.read_text(errors="replace")
    sent: dict[str, float] = {}
    stamps = list(_BLOCK.finditer(text))
    for i, match in enumerate(stamps):
        body = text[match.end() : stamps[i + 1].start() if i + 1 < len(stamps) else len(text)]
        if "message sent" not in body.split("\n", 2)[1] or "\nINVITE " not in body:
            continue
        user = _FROM_USER.search(body)
        if user:
            at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            sent.setdefault(user.group(1), at)
    return sent


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def _prepare(url: str, contacts: int) -> None:
    await _fill(url, contacts)
    engine = database.make_engine(url)
    try:
        async with database.make_sessionmaker(engine)() as session:
            for ext in OPERATORS:
                await add_user(
                    session,
                    login=f"op{ext}",
                    full_name=f"Оператор {ext}",
                    role="operator",
                    password=PASSWORD,
                    extension=ext,
                    device=f"PJSIP/op{ext}",
                )
            await session.commit()
    finally:
        await engine.dispose()


async def _run_load(url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    port = 18090
    settings = load_settings(
        {
            "CALLCENTER_HTTP_PORT": str(port),
            "CALLCENTER_DATA_DIR": str(work / "data"),
            "CALLCENTER_AGI_PORT": "14573",
            "CALLCENTER_LOG_LEVEL": "WARNING",
        }
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_ready(address: str) -> None:
        ready.set_result(address)

    server = asyncio.create_task(
        runtime.serve(settings, stop=stop, on_ready=on_ready, database_url=url)
    )
    await asyncio.wait_for(ready, 60)
    base = f"http://127.0.0.1:{port}"
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.screen_pop_clients",
        "--base",
        base,
        "--logins",
        ",".join(f"op{e}" for e in OPERATORS),
        "--password",
        PASSWORD,
        "--per-user",
        str(args.per_user),
        stdout=subprocess.PIPE,
    )
    assert clients.stdout is not None
    await asyncio.wait_for(clients.stdout.readline(), 120)  # READY
    calls = int(args.rate * args.seconds)
    # known clients: the generated phones are +79 followed by 2 * contact id
    specs = [
        CallSpec(f"89{(2 * (1 + i * 997 % (args.contacts - 1))):09d}", "", OPERATORS[i % 10])
        for i in range(calls)
    ]
    phones = [Phone.operator(ext, work / "sipp", ring_ms=1000) for ext in OPERATORS]
    caller = Caller(
        work / "sipp", specs=specs, calls=calls, rate=args.rate, hold_ms=2000, name="load"
    )
    message_log = caller.log_messages()
    try:
        for phone in phones:
            phone.start()
        caller.start()
        await asyncio.to_thread(caller.wait, args.seconds + 120)
        await asyncio.sleep(3)
    finally:
        caller.stop()
        for phone in phones:
            phone.stop()
        clients.terminate()
        output, _ = await clients.communicate()
        stop.set()
        await asyncio.wait_for(server, 60)
        await asyncio.to_thread(sandbox.hangup_all)
    received = json.loads(output)
    sent = invite_times(message_log)
    end_to_end = [
        (at - sent[number]) * 1000 for _, number, _, at in received["arrivals"] if number in sent
    ]
    per_call: dict[str, set[str]] = defaultdict(set)
    for login, _, linkedid, _ in received["arrivals"]:
        per_call[linkedid].add(login)
    ok, failed = caller.counts()
    return {
        "calls_placed": calls,
        "calls_ok": ok,
        "calls_failed": failed,
        "pops_received": len(received["arrivals"]),
        "pops_expected": calls * args.per_user,
        "calls_popped": len(per_call),
        "connections": received["connections"],
        "server_side": _percentiles(_server_ms),
        "end_to_end": _percentiles(end_to_end),
        # the server runs in this process: its peak, the data fill included
        "server_process_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench screen_pop")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--per-user", type=int, default=20)
    args = parser.parse_args(argv)
    if not sandbox.sandbox_status().running:
        raise SystemExit("the sandbox Asterisk is not running: callcenter asterisk-sandbox up")
    sandbox.hangup_all()
    _install_probes()
    work = Path(tempfile.mkdtemp(prefix="cc-bench-pop-"))
    try:
        with embedded_postgres(work / "pg") as admin_url:
            asyncio.run(database.ensure_database(admin_url, "callcenter"))
            url = database.with_database(admin_url, "callcenter")
            upgrade(url)
            asyncio.run(_prepare(url, args.contacts))
            figures = asyncio.run(_run_load(url, args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "parameters": {
            "rate_per_s": args.rate,
            "seconds": args.seconds,
            "contacts": args.contacts,
            "websockets": args.per_user * len(OPERATORS),
            "cpus": os.cpu_count(),
        },
        **figures,
        "targets": {"server_side_p99_ms": 20, "end_to_end_p99_ms": 150},
    }
