"""A screen-pop pipeline cancelled while its caller's lookup completes stops (Python 3.11).

``asyncio.wait_for`` on 3.11 returns the result, and drops the cancellation, when the
awaited lookup finishes in the same turn of the loop as the cancel: the pipeline then
went on to wait for its next step, and ``ScreenPops.close()`` (every shutdown of
``serve``) waited for it for good.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from callcenter.lookup import Lookup
from callcenter.screen_pop import ScreenPops, _CallPipeline
from callcenter.tracking import TrackedCall


async def test_a_cancel_that_meets_the_lookup_finishing_is_not_lost() -> None:
    pops = ScreenPops(cast(Any, None), cast(Any, None), cast(Any, None), region="RU")
    call = TrackedCall("1.1", "inbound", datetime.now(UTC), "84951234567", "Ivan")
    pipeline = _CallPipeline()
    lookup: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
    pipeline.lookup = cast(Any, lookup)
    waiting = asyncio.create_task(pops._lookup_within_deadline(pipeline, call))
    await asyncio.sleep(0)  # it waits for the lookup
    lookup.set_result(Lookup(call.caller_number, "+74951234567"))
    waiting.cancel()  # in the same turn: shutdown came as the lookup answered
    with pytest.raises(asyncio.CancelledError):
        await waiting
