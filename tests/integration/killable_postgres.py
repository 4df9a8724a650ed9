"""A PostgreSQL of one test's own that it may kill -9 and start again.

Started as the product starts its embedded server (``callcenter.embedded_db``), in
a data folder of its own: the shared test server is never touched. ``kill`` sends
SIGKILL to the postmaster, as a crash or the OOM killer would, and waits for its
backends to notice and go; ``start`` starts it again on the same data folder and
socket, so clients reconnect to the address they had.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from callcenter.embedded_db import embedded_postgres


class KillablePostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self.admin_url = ""
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        self.admin_url = self._stack.enter_context(embedded_postgres(self.pgdata))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.running():
            self.start()  # so the package's clean-up stops it as it expects
        self._stack.close()

    def _postmaster(self) -> tuple[int, Path]:
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), Path(lines[4])  # the pid and the socket's folder

    def running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        return _alive(self._postmaster()[0])

    def kill(self) -> None:
        pid, socket_dir = self._postmaster()
        postmaster = psutil.Process(pid)
        backends = postmaster.children()
        os.kill(pid, signal.SIGKILL)
        # backends leave by themselves once the postmaster is gone (they watch it);
        # one still attached to the old shared memory must not meet a new postmaster
        _wait_gone([pid, *(b.pid for b in backends)], 10)
        for straggler in backends:
            if _alive(straggler.pid):
                straggler.kill()
        _wait_gone([b.pid for b in backends], 5)
        # a killed process nobody reaps stays a zombie, and PostgreSQL would take its
        # lock files for a live server's: they are stale, we saw it die
        (self.pgdata / "postmaster.pid").unlink()
        for lock in socket_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink()

    def start(self) -> None:
        """Start the server again (the same data folder and socket), as embedded_db does."""
        from embedded_postgres.postgres_server import PostgresServer

        # the package keeps one handle per data folder; it starts the server anew when
        # postmaster.pid is gone
        PostgresServer._instances[self.pgdata].ensure_postgres_running()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
