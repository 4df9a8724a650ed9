"""The originate_rate benchmark's figures: percentiles, the pass rule, CPU shares."""

from __future__ import annotations

import math
import os
import time

import pytest

from bench.originate_rate import (
    CpuMeter,
    StepFigures,
    max_passing_rate,
    percentile,
    process_ticks,
)


def step(rate: float, lags: list[float], accepted_per_s: float | None = None) -> StepFigures:
    return StepFigures(
        rate=rate,
        sent=len(lags),
        accepted=len(lags),
        accepted_per_s=rate if accepted_per_s is None else accepted_per_s,
        reply_ms=[1.0] * len(lags),
        lag_ms=lags,
        refused=0,
        errors=0,
        no_event=sum(math.isinf(lag) for lag in lags),
        not_connected=0,
        peak_channels=0,
    )


def test_percentiles_are_nearest_rank_and_keep_missing_events_at_the_top() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0, math.inf, 1.0], 0.5) == 3.0
    assert percentile([3.0, math.inf, 1.0], 0.99) == math.inf
    assert percentile([], 0.5) is None


def test_a_rate_passes_with_p99_lag_under_a_second_and_its_rate_accepted() -> None:
    fast = [5.0] * 99
    assert step(50, [*fast, math.inf]).passes  # one lost in a hundred is the 1% p99 allows
    assert not step(50, [*fast[:98], math.inf, math.inf]).passes
    assert step(50, [*fast, 5000.0]).passes  # the slowest 1% may be slow
    assert not step(50, [*fast[:98], 1000.0, 1000.0]).passes
    assert step(50, [*fast[:98], 999.0, 999.0]).passes
    assert not step(50, fast, accepted_per_s=40.0).passes
    assert not step(50, []).passes


def test_the_result_is_the_highest_rate_below_the_first_failure() -> None:
    good, bad = [5.0] * 100, [2000.0] * 100
    assert max_passing_rate([step(25, good), step(10, good), step(50, good)]) == 50
    assert max_passing_rate([step(10, good), step(25, good), step(50, bad), step(75, good)]) == 25
    assert max_passing_rate([step(10, bad)]) == 0
    summary = step(50, [*[5.0] * 98, math.inf, math.inf]).summary()
    assert summary["lag_p99_ms"] is None  # JSON has no infinity
    assert summary["no_event"] == 2
    assert summary["passes"] is False


def test_cpu_shares_follow_the_process_clock() -> None:
    assert process_ticks(2**22 + 12345) == 0  # no such process
    meter = CpuMeter({"bench": [os.getpid()], "nobody": []})
    wall_start, cpu_start = time.monotonic(), time.process_time()
    meter.start()
    while time.process_time() - cpu_start < 0.4:
        pass
    shares = meter.read()
    expected = 100 * (time.process_time() - cpu_start) / (time.monotonic() - wall_start)
    assert shares["bench"] == pytest.approx(expected, abs=10)
    assert shares["nobody"] == 0
    assert 0 < shares["machine_busy_of_all_cores"] <= 100
