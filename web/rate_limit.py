"""In-memory token buckets: each key may spend ``per_minute`` requests a minute, in bursts
of up to that many.

Per web worker, not shared: behind several workers a client gets that many times the
allowance, which is still a bound. Full buckets are forgotten, so the memory used
follows the clients active in the last minute, not every client ever seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# a flood of distinct keys (spoofed sources) must not grow memory without end
MAX_KEYS = 100_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when the request may go ahead; else the seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        refill = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        if len(self._buckets) >= MAX_KEYS:
            self._buckets.clear()  # under a flood forgetting is better than refusing everyone


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))
