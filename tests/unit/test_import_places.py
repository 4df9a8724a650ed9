"""The place lookup process of a CSV import answers as phone_geography does, in order."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.import_places import PlaceFinder
from callcenter.phone_geography import geography

NUMBERS = ["+74232123456", "+79161234567", "+78121234567", "+74012123456", "+12025550123"]


async def test_the_worker_answers_each_batch_in_order() -> None:
    async with PlaceFinder() as places:
        first = await places.find(NUMBERS)
        second = await places.find(list(reversed(NUMBERS)))
        assert await places.find([]) == []
    expected = [(geography(n).region, geography(n).time_zone) for n in NUMBERS]
    assert first == expected
    assert second == list(reversed(expected))
    assert ("Приморский край", "Asia/Vladivostok") in first


async def test_a_dead_worker_is_a_clear_error_not_a_hang() -> None:
    async with PlaceFinder() as places:
        assert places._worker is not None
        places._worker.kill()
        with pytest.raises(RuntimeError, match="place lookup process ended"):
            await asyncio.wait_for(places.find(NUMBERS), 10)


async def test_leaving_ends_the_worker_even_on_cancel() -> None:
    finder = PlaceFinder()

    async def import_cancelled_midway() -> None:
        async with finder:
            await asyncio.sleep(60)

    task = asyncio.create_task(import_cancelled_midway())
    await asyncio.sleep(0.5)
    worker = finder._worker
    assert worker is not None and worker.returncode is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert worker.returncode is not None
