"""First and later runs of the README's first command, timed to a healthy /healthz.

Clones this repository into a temporary folder and runs `scripts/demo` there with
an empty cache (so the Asterisk root is built by debootstrap and the virtual
environment is created) and an empty data folder; then runs it again. Each run
counts from the command's start until /healthz reports the database ok and AMI
connected. Needs root, Debian and no other Asterisk on 127.0.0.1:5038.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _healthy(port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.load(response)
    except OSError:
        return False
    return bool(body["database"]["ok"] and body["ami"]["connected"])


def _timed_demo(clone: Path, env: dict[str, str], port: int, timeout: float) -> float | None:
    started = time.monotonic()
    log = (clone.parent / f"demo-{int(started)}.log").open("w")
    demo = subprocess.Popen(
        ["scripts/demo", "--no-calls"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while time.monotonic() - started < timeout and demo.poll() is None:
            if _healthy(port):
                return time.monotonic() - started
            time.sleep(0.2)
        return None
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        log.close()


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench demo_start")
    parser.add_argument("--later-runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5038)) == 0:
            raise SystemExit(
                "an Asterisk already answers on 5038: `callcenter asterisk-sandbox down`"
            )
    work = Path(tempfile.mkdtemp(prefix="cc-bench-demo-"))
    clone = work / "callcenter"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    port = _free_port()
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(work / "cache"),
        "CALLCENTER_DATA_DIR": str(work / "data"),
        "CALLCENTER_HTTP_PORT": str(port),
    }
    env.pop("CALLCENTER_DATABASE_URL", None)
    try:
        first = _timed_demo(clone, env, port, args.timeout)
        later = [_timed_demo(clone, env, port, args.timeout) for _ in range(args.later_runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    done = sorted(x for x in later if x is not None)
    return {
        "parameters": {"later_runs": args.later_runs, "timeout_s": args.timeout},
        "first_run_s": round(first, 1) if first is not None else None,
        "later_run_median_s": round(done[len(done) // 2], 1) if done else None,
        "failed_runs": [first, *later].count(None),
        "targets": {"first_run_s": 300, "later_run_s": 30},
    }
