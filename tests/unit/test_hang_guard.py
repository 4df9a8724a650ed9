"""The hang guard fails a stuck test, shows where it was stuck, and lets the run go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_STUCK = """
import asyncio
import time

async def test_waits_forever():
    await asyncio.Event().wait()

async def test_swallows_its_cancellation():
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass

def test_blocks_in_sync_code():
    time.sleep(60)

def test_after_them():
    assert True
"""


def test_stuck_tests_fail_with_their_stacks_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_stuck.py").write_text(_STUCK)
    env = os.environ | {
        "CALLCENTER_TEST_HANG_SECONDS": "1",
        "CALLCENTER_TEST_HANG_GRACE_SECONDS": "1",
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.hang_guard",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "addopts=",
            "-q",
            "test_stuck.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert "3 failed, 1 passed" in out, out
    # the stack of the stuck coroutine is printed, not just the event loop's select
    assert "hang guard: test_stuck.py::test_waits_forever still running" in out
    assert "in test_waits_forever" in out
    assert "test_swallows_its_cancellation ignored its cancellation" in out
    assert "test_blocks_in_sync_code hung (no event loop running)" in out
