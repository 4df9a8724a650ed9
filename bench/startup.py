"""Time from `callcenter serve` to /healthz reporting database ok and AMI connected.

A cold start has an empty data folder (initdb of the embedded PostgreSQL and all
migrations); a warm start reuses it. Needs the sandbox Asterisk up
(`callcenter asterisk-sandbox up`) for the AMI part; free port 8089 is used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PORT = 8089


def _healthy(deadline: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as r:
                body = json.load(r)
            if body["database"]["ok"] and body["ami"]["connected"]:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    return None


def _one_start(data_dir: Path, timeout: float) -> float | None:
    env = {
        **os.environ,
        "CALLCENTER_DATA_DIR": str(data_dir),
        "CALLCENTER_HTTP_PORT": str(PORT),
        "CALLCENTER_LOG_LEVEL": "WARNING",
    }
    env.pop("CALLCENTER_DATABASE_URL", None)
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "callcenter", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        waited = _healthy(started + timeout)
        return None if waited is None else time.monotonic() - started
    finally:
        server.terminate()
        server.wait(30)


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench startup")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    cold: list[float] = []
    warm: list[float] = []
    failed = 0
    for _ in range(args.runs):
        data_dir = Path(tempfile.mkdtemp(prefix="cc-bench-"))
        try:
            for bucket in (cold, warm):
                seconds = _one_start(data_dir, args.timeout)
                if seconds is None:
                    failed += 1
                else:
                    bucket.append(seconds)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "parameters": {"runs": args.runs, "timeout_s": args.timeout},
        "cold_start_median_s": round(statistics.median(cold), 2) if cold else None,
        "warm_start_median_s": round(statistics.median(warm), 2) if warm else None,
        "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 2)
        if cold and warm
        else None,
        "failed_starts": failed,
    }
