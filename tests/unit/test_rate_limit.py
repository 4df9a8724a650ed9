"""The token buckets that bound web-form leads, on a hand-driven clock."""

from __future__ import annotations

import pytest

from web import rate_limit
from web.rate_limit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_allowance_then_a_wait_that_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(30, clock)
    assert [limiter.take("10.0.0.1") for _ in range(30)] == [0.0] * 30
    wait = limiter.take("10.0.0.1")
    assert 1.9 < wait <= 2.0  # one request every two seconds at 30 a minute
    assert limiter.take("10.0.0.2") == 0.0  # another key has its own bucket
    clock.now += wait
    assert limiter.take("10.0.0.1") == 0.0
    assert limiter.take("10.0.0.1") > 0
    clock.now += 60
    assert [limiter.take("10.0.0.1") for _ in range(30)] == [0.0] * 30  # full, not more


def test_memory_is_bounded_under_a_flood_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    limiter = RateLimiter(30, clock)
    monkeypatch.setattr(rate_limit, "MAX_KEYS", 100)
    for n in range(1000):
        assert limiter.take(f"key{n}") == 0.0
        clock.now += 0.001
    assert len(limiter._buckets) <= 100
    # a key seen within the last minute is remembered: its spent request still counts
    limiter = RateLimiter(1, clock)
    limiter.take("busy")
    for n in range(98):
        limiter.take(f"key{n}")
    clock.now += 1
    limiter.take("one-more")
    assert limiter.take("busy") > 0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.01, 1.0, 1.2, 59.5)] == ["1", "1", "2", "60"]
