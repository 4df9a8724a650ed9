"""A test phase that hangs fails after a while, showing where it hung.

Without this a stuck test waits silently until CI's budget is gone and the run
shows nothing but the last dot. After ``CALLCENTER_TEST_HANG_SECONDS`` (300 by
default) in one phase (set-up, call or tear-down) the guard prints every thread's
stack and every asyncio task's stack, then cancels the tasks of the running event
loop so the test fails and the run goes on. A phase that ignores the
cancellation gets a last ``_GRACE_SECONDS`` before the guard fails it from the
signal handler itself.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import pytest

_GRACE_SECONDS = float(os.environ.get("CALLCENTER_TEST_HANG_GRACE_SECONDS", "30"))


def _budget() -> float:
    return float(os.environ.get("CALLCENTER_TEST_HANG_SECONDS", "300"))


class _Guard:
    def __init__(self, where: str) -> None:
        self.where = where
        self.fired = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.fired:
            pytest.fail(f"hang guard: {self.where} ignored its cancellation", pytrace=True)
        self.fired = True
        print(
            f"\n=== hang guard: {self.where} still running after {_budget():.0f} s", file=sys.stderr
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pytest.fail(f"hang guard: {self.where} hung (no event loop running)", pytrace=True)
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            print(f"--- {task!r}", file=sys.stderr)
            task.print_stack(file=sys.stderr)
        sys.stderr.flush()

        def cancel() -> None:
            for task in tasks:
                task.cancel()

        # cancelled from the loop's own thread, between its callbacks, not mid-select
        loop.call_soon_threadsafe(cancel)
        signal.setitimer(signal.ITIMER_REAL, _GRACE_SECONDS)


def _guarded(where: str) -> Iterator[None]:
    budget = _budget()
    if budget <= 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _Guard(where))
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    yield from _guarded(f"set-up of {item.nodeid}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield from _guarded(item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield from _guarded(f"tear-down of {item.nodeid}")
