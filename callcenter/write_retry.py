"""How a writer task waits out a database outage: capped backoff, two log lines.

A writer (call log, operator state log) retries the same write until it goes
through. While PostgreSQL restarts, every attempt fails the same way; a traceback
per attempt would bury the log, so an outage is told once when it starts (an error,
without traceback) and once when it ends (how long, how many attempts). The
delay grows to a cap and stays there: a few attempts a minute cost nothing, and
the first after the database is back reconnects (the pool drops connections the
restart broke, see ``database.make_engine``).
"""

from __future__ import annotations

import asyncio
import logging
import time

DELAYS = (0.25, 0.5, 1.0, 2.0)


class WriteRetry:
    def __init__(self, log: logging.Logger, what: str, delays: tuple[float, ...] = DELAYS) -> None:
        self._log = log
        self._what = what
        self._delays = delays
        self._failures = 0
        self._since = 0.0
        self.outages = 0
        self.last_outage_seconds = 0.0

    @property
    def failing(self) -> bool:
        return self._failures > 0

    async def failed(self, exc: Exception) -> None:
        """A write failed: say so if it is the first of an outage, then wait."""
        if not self._failures:
            self._since = time.monotonic()
            self.outages += 1
            self._log.error("%s: cannot write (%s); retrying", self._what, reason_of(exc))
        else:
            self._log.debug("%s: still cannot write (%s)", self._what, reason_of(exc))
        delay = self._delays[min(self._failures, len(self._delays) - 1)]
        self._failures += 1
        await asyncio.sleep(delay)

    def succeeded(self) -> None:
        if self._failures:
            self.last_outage_seconds = time.monotonic() - self._since
            self._log.warning(
                "%s: writing again after %.1f s (%d failed attempts)",
                self._what,
                self.last_outage_seconds,
                self._failures,
            )
        self._failures = 0


def reason_of(exc: Exception) -> str:
    # SQLAlchemy's message carries the statement and its parameters (callers' numbers):
    # the driver's own error says what went wrong without them
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}"
