"""Wallboard fan-out: 1,000 supervisors' websockets watching the wallboard while 20 calls/s flow.

A fresh embedded PostgreSQL holds 100 operators (with phones) and ``--clients``
supervisors, each signed in (a ``web_sessions`` row; its token is the cookie).
The server is a process of its own (``bench.wallboard_fanout_server``), so its
memory is its alone: the real web application with its ``/ws`` route, session
middleware and ``Hub``, and the real ``WallboardFeed`` pushing a real
``Wallboard`` (at most twice a second, when it changed). Only the call tracker is
stood in for: inbound queue calls arrive at ``--rate`` a second (Poisson), wait
for a free operator, ring 1-2 s, talk 2-4.5 s (the floor is 95% busy), or give up
after 5-30 s of waiting, and the wallboard hears of them through its
``CallObserver`` methods, so about 100 calls are live and the pictures have their
real size (about 40 KB).

The first supervisor's browser is stalled: it completes the websocket handshake
and never reads again. The others (``--clients`` - 1, in ``--client-processes``
processes of bare websocket readers, ``bench.wallboard_fanout_clients``; like
browsers they offer permessage-deflate) note when each picture arrives.

Figures, over the pictures published while every client was connected:
* delivery: from the picture's ``ts`` (the hub's ``time.time()`` as it encodes
  it) to the arrival of its last byte at a client (one machine, one clock),
  p50/p99/max over every healthy client and picture; how many of the expected
  arrived; and when the last client got each picture (one whole fan-out);
* server memory: VmRSS before the clients connected, its largest sample while
  they were, and the process's peak (VmHWM; it includes the 64 MB an argon2 hash
  borrows for a moment, once at import for ``callcenter.auth``);
* the stalled client's fate: closed by the server (with which code, after how
  long), or still open with what the hub held for it;
* CPU of the server, of the client processes and of whatever else ran (share of
  one core): on a shared machine another job's CPU shows up as delivery time;
* the server's full garbage collections while measuring: each stops the fan-out
  in progress (the server tunes the collector as ``callcenter serve`` does,
  ``callcenter/app/collector.py``; ``--untuned-gc`` measures Python's defaults).
Targets: delivery p99 <= 50 ms, server peak RSS <= 150 MB, the stalled client
costs the others nothing (all pictures arrive, none is closed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.originate_rate import CpuMeter, percentile
from bench.russian_names import People
from callcenter import database
from callcenter.embedded_db import embedded_postgres
from callcenter.migrate import upgrade
from callcenter.models import User, WebSession
from callcenter.passwords import hash_password
from web.auth import SESSION_COOKIE

TARGET_P99_MS = 50.0
TARGET_RSS_MB = 150.0
OPERATORS = 100
WARM_UP_SECONDS = 10.0  # the floor fills up (operators busy, callers waiting) first
# pictures published this close to the end may still be on their way when it stops
LAST_SECOND = 1.0


# ------------------------------------------------------------------ set-up


async def _prepare(url: str, clients: int) -> tuple[list[str], int]:
    """Operators with phones and signed-in supervisors; their tokens and the first's id."""
    people = People(seed=3)
    password_hash = hash_password("bench-password")  # one argon2 hash serves everyone
    engine = database.make_engine(url)
    try:
        async with database.make_sessionmaker(engine)() as session:
            for n in range(OPERATORS):
                person = people.person()
                name = " ".join(p for p in (person.first_name, person.last_name) if p)
                session.add(
                    User(
                        login=f"op{101 + n}",
                        full_name=name,
                        role="operator",
                        password_hash=password_hash,
                        extension=str(101 + n),
                        interface=f"PJSIP/op{101 + n}",
                    )
                )
            supervisors = [
                User(
                    login=f"sup{n:04d}",
                    full_name=f"Супервизор {n}",
                    role="supervisor",
                    password_hash=password_hash,
                )
                for n in range(clients)
            ]
            session.add_all(supervisors)
            await session.flush()
            now = datetime.now(UTC)
            tokens = []
            for user in supervisors:
                token = secrets.token_urlsafe(32)
                tokens.append(token)
                # what callcenter.auth.sign_in stores: the token's SHA-256, never the token
                session.add(
                    WebSession(
                        token_hash=hashlib.sha256(token.encode()).hexdigest(),
                        user_id=user.id,
                        expires_at=now + timedelta(hours=12),
                        last_seen_at=now,
                    )
                )
            await session.commit()
            return tokens, supervisors[0].id
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stalled_client(port: int, token: str) -> socket.socket:
    """A browser that completes the websocket handshake and then never reads again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: {SESSION_COOKIE}={token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: nothing after the headers is read
        if not chunk:
            raise RuntimeError("the server closed the stalled client's handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"websocket refused: {head.splitlines()[0]!r}")
    return sock


def _memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = round(int(value.split()[0]) / 1024, 1)
    return figures


# --------------------------------------------------------------------- load


async def _read_line(process: asyncio.subprocess.Process, timeout: float) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"process {process.pid} ended before it was ready")
    return line.decode().strip()


async def _stop(process: asyncio.subprocess.Process, timeout: float = 30) -> dict[str, Any]:
    """SIGTERM, then the JSON it prints."""
    if process.returncode is None:
        process.terminate()
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    result: dict[str, Any] = json.loads(output)
    return result


async def _kill(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


async def _measure(
    url: str, tokens: list[str], stalled_user_id: int, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """``work / "tokens"`` holds the healthy clients' tokens (all but the first)."""
    port = _free_port()
    python = [sys.executable, "-m"]
    started: list[asyncio.subprocess.Process] = []
    stalled: socket.socket | None = None
    try:
        server = await asyncio.create_subprocess_exec(
            *python,
            "bench.wallboard_fanout_server",
            "--database-url",
            url,
            "--data-dir",
            str(work / "data"),
            "--port",
            str(port),
            "--rate",
            str(args.rate),
            "--stalled-user-id",
            str(stalled_user_id),
            *(["--untuned-gc"] if args.untuned_gc else []),
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(server)
        await _read_line(server, 60)  # READY
        _progress(f"server {server.pid} listens on {port}; calls flow for {WARM_UP_SECONDS:g} s")
        await asyncio.sleep(WARM_UP_SECONDS)
        idle_memory = _memory_mb(server.pid)
        stalled = await asyncio.to_thread(_stalled_client, port, tokens[0])
        stalled_at = time.time()
        share = -(-(len(tokens) - 1) // args.client_processes)
        clients = []
        for first in range(0, len(tokens) - 1, share):
            clients.append(
                await asyncio.create_subprocess_exec(
                    *python,
                    "bench.wallboard_fanout_clients",
                    "--port",
                    str(port),
                    "--tokens",
                    str(work / "tokens"),
                    "--first",
                    str(first),
                    "--count",
                    str(share),
                    stdout=asyncio.subprocess.PIPE,
                )
            )
            started.append(clients[-1])
        opened = [int((await _read_line(c, 120)).split()[1]) for c in clients]
        _progress(
            f"{sum(opened)} clients and a stalled one connected; measuring {args.seconds:g} s"
        )
        cpu = CpuMeter({"server": [server.pid], "clients": [c.pid for c in clients]})
        cpu.start()
        window_start = time.time()
        rss_samples = []
        while time.time() - window_start < args.seconds:
            await asyncio.sleep(0.5)
            rss_samples.append(_memory_mb(server.pid)["VmRSS"])
        window_end = time.time()
        cpu_figures = cpu.read()
        # whatever else ran meanwhile (this machine may be shared) took CPU from both
        busy = cpu_figures["machine_busy_of_all_cores"] * (os.cpu_count() or 1)
        cpu_figures["other_processes"] = round(
            busy - cpu_figures["server"] - cpu_figures["clients"], 1
        )
        memory = _memory_mb(server.pid)
        _progress("stopping")
        received = [await _stop(c) for c in clients]
        served = await _stop(server)
    finally:
        if stalled is not None:
            stalled.close()
        await _kill(started)
    return _figures(
        args,
        window=(window_start, window_end),
        stalled_at=stalled_at,
        stalled_user_id=stalled_user_id,
        opened=sum(opened),
        received=received,
        served=served,
        memory={
            "before_clients_mb": idle_memory["VmRSS"],
            "peak_mb": memory["VmHWM"],
            "end_mb": memory["VmRSS"],
            "median_during_mb": statistics.median(rss_samples),
            "max_during_mb": max(rss_samples),
        },
        cpu=cpu_figures,
    )


def _figures(
    args: argparse.Namespace,
    *,
    window: tuple[float, float],
    stalled_at: float,
    stalled_user_id: int,
    opened: int,
    received: list[dict[str, Any]],
    served: dict[str, Any],
    memory: dict[str, float],
    cpu: dict[str, float],
) -> dict[str, Any]:
    start, end = window
    pictures = [p for p in served["pictures"] if start <= p[0] <= end - LAST_SECOND]
    expected_ts = {p[0] for p in pictures}
    latencies = [d for part in received for ts, d in part["arrivals"] if ts in expected_ts]
    # the last healthy client to get each picture: how long one fan-out takes
    slowest: dict[float, float] = {}
    for part in received:
        for ts, delay in part["arrivals"]:
            if ts in expected_ts:
                slowest[ts] = max(slowest.get(ts, 0.0), delay)
    closed_healthy = [code for part in received for code in part["closed_by_server"]]
    expected = len(pictures) * opened

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    p99 = ms(percentile(latencies, 0.99))
    delivery: dict[str, Any] = {
        "p50_ms": ms(percentile(latencies, 0.5)),
        "p99_ms": p99,
        "max_ms": ms(max(latencies, default=None)),
        "last_client_of_a_picture_median_ms": ms(percentile(list(slowest.values()), 0.5)),
        "slowest_pictures": [
            {"at_s": round(ts - start, 1), "last_client_ms": ms(wait)}
            for ts, wait in sorted(slowest.items(), key=lambda item: -item[1])[:3]
        ],
        "pictures_whose_last_client_waited_over_50_ms": sum(
            v > TARGET_P99_MS for v in slowest.values()
        ),
    }
    sizes = [p[1] for p in pictures]
    fan_out = [p[2] for p in pictures]
    ended = [e for e in served["ended"] if e["user_id"] == stalled_user_id]
    if ended:
        fate: dict[str, Any] = {
            "closed_by_server": True,
            "close_code": ended[0]["close_code"],
            "after_s": round(ended[0]["closed_at"] - stalled_at, 1),
            "error": ended[0]["error"],
        }
    else:
        fate = {"closed_by_server": False, "still_open": served["stalled_at_end"]}
    live = served["live_calls"]
    met = {
        "delivery_p99": p99 is not None and p99 <= TARGET_P99_MS,
        "server_memory": memory["peak_mb"] <= TARGET_RSS_MB,
        "stalled_client_delays_nobody": len(latencies) == expected and not closed_healthy,
    }
    return {
        "parameters": {
            "clients": args.clients,
            "calls_per_s": args.rate,
            "seconds": args.seconds,
            "client_processes": args.client_processes,
            "collector_tuned": not args.untuned_gc,
            "operators": OPERATORS,
            "cpus": os.cpu_count(),
        },
        "healthy_clients_connected": opened,
        "permessage_deflate_agreed": sum(part["deflate"] for part in received),
        "calls": {
            **served["calls"],
            "live_median": statistics.median(live) if live else None,
            "live_max": max(live, default=None),
        },
        "pictures_sent": len(pictures),
        "messages_expected": expected,
        "messages_received": len(latencies),
        "healthy_clients_closed_by_server": len(closed_healthy),
        "delivery": delivery,
        "picture_bytes": {
            "median": statistics.median(sizes) if sizes else None,
            "max": max(sizes, default=None),
        },
        "publish_state_ms": {  # the synchronous part: encode once, fill every outbox
            "median": ms(statistics.median(fan_out)) if fan_out else None,
            "max": ms(max(fan_out, default=None)),
        },
        "server_loop_lag_max_ms": ms(served["loop_lag_max_ms"]),
        "server_gc": {  # the full collections while measuring: they stop the fan-out
            "full_collections": [
                {"at_s": round(at - start, 1), "ms": ms(spent)}
                for at, spent in served["gc_full"]
                if start <= at <= end
            ],
            "young_collections": served["gc_young"],
            "tracked_objects": served["gc_tracked_objects"],
        },
        "server_rss": memory,
        "cpu_percent_of_one_core": cpu,
        "stalled_client": fate,
        "dropped_slow_clients": served["dropped_slow_clients"],
        "targets": {"delivery_p99_ms": TARGET_P99_MS, "server_rss_peak_mb": TARGET_RSS_MB},
        "targets_met": {**met, "all": all(met.values())},
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench wallboard_fanout")
    parser.add_argument("--clients", type=int, default=1000, help="websockets, one stalled")
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, after warm-up")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--untuned-gc",
        action="store_true",
        help="the server keeps Python's collector settings (serve tunes them)",
    )
    args = parser.parse_args(argv)
    if args.clients < 2:
        parser.error("--clients: at least 2 (one of them is stalled)")
    # a short path: the server's Unix socket lives in this folder (108-byte limit)
    work = Path(tempfile.mkdtemp(prefix="cc-bench-wb-"))
    try:
        with embedded_postgres(work / "pg") as admin_url:
            asyncio.run(database.ensure_database(admin_url, "callcenter"))
            url = database.with_database(admin_url, "callcenter")
            upgrade(url)
            tokens, stalled_user_id = asyncio.run(_prepare(url, args.clients))
            (work / "tokens").write_text("\n".join(tokens[1:]))
            _progress(f"{OPERATORS} operators and {args.clients} signed-in supervisors")
            return asyncio.run(_measure(url, tokens, stalled_user_id, args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
