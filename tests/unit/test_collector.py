"""``serve`` tunes the garbage collector once it is up (callcenter/app/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from callcenter.app.collector import FULL_AFTER, tune_for_serving


@pytest.fixture
def collector() -> Iterator[None]:
    """Python's own settings for the test, the test process's own afterwards."""
    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_start_up_is_frozen_and_full_collections_are_rarer() -> None:
    young, middle, _ = gc.get_threshold()
    tune_for_serving()
    assert gc.get_threshold() == (young, middle, FULL_AFTER)
    assert gc.get_freeze_count() > 1000  # the modules, the test session ...
    # what comes later is still collected
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
