"""Campaign progress on the wallboard, from a real dialer run on the sandbox: what the
board counted in memory as the dialer settled its attempts equals what the database
says afterwards, and the lines in flight showed while the calls rang and talked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Phone
from callcenter.day_figures import campaign_day_so_far, shown_campaigns
from callcenter.wallboard import CampaignLines, Wallboard
from tests.integration.dialer_engine_helpers import (
    ANSWERS,
    BUSY,
    attempts,
    make_campaign,
    running_dialer,
    settled,
)
from tests.integration.test_ami_link import AmiProxy

pytestmark = [pytest.mark.asterisk, pytest.mark.db]

MOSCOW = ZoneInfo("Europe/Moscow")


async def test_the_board_counts_what_the_dialer_settles(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    numbers = [f"{ANSWERS}{n:04d}" for n in range(91, 94)] + [f"{BUSY}0091"]
    floor = await make_campaign(db, numbers)
    operator_phone("106", ring_ms=100)
    customers(ring_ms=1500, talk_ms=1500)
    wallboard = Wallboard(zone=MOSCOW, sla_seconds=20)
    seen: list[dict[int, CampaignLines]] = []

    async with AmiProxy(asterisk_sandbox.ami_port) as proxy, running_dialer(db, proxy) as dialer:
        dialer.engine.on_settled = wallboard.attempt_settled

        async def watch() -> None:
            while True:
                seen.append(dialer.engine.lines())
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        await settled(db, floor.campaign_id, len(numbers))
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)

    rows = await attempts(db, floor.campaign_id)
    in_memory = wallboard.campaign_days[floor.campaign_id]
    async with db() as session:
        from_database = (await campaign_day_so_far(session, MOSCOW, datetime.now(UTC)))[
            floor.campaign_id
        ]
        shown = await shown_campaigns(session)
    assert in_memory == from_database
    assert in_memory.dialled == len(rows) == len(numbers)
    assert in_memory.picked_up == sum(a.outcome in ("answered", "abandoned") for a in rows) >= 3
    assert any(lines.get(floor.campaign_id, CampaignLines()).ringing for lines in seen)
    assert any(lines.get(floor.campaign_id, CampaignLines()).talking for lines in seen)
    assert seen[-1].get(floor.campaign_id) is None  # nothing left in flight
    assert shown[floor.campaign_id].name == "Обзвон"
    assert shown[floor.campaign_id].leads_left == 0
    picture = wallboard.snapshot(datetime.now(UTC), [], {})
    assert picture["campaigns"][0]["dialled"] == len(numbers)
