"""Times typed in the browser mean the user's own time zone (their profile), not the browser's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import User
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

USER_ZONE = "Asia/Vladivostok"  # the operator's profile
BROWSER_ZONE = "America/New_York"  # the computer they sit at


@pytest.mark.parametrize(
    "typed",
    [
        "2026-07-01T09:30",  # New York in summer time
        "2026-12-25T23:45",  # New York in winter time, late in the evening
        "2026-03-08T02:30",  # New York skips 02:00-03:00 that night; Vladivostok does not
    ],
)
async def test_a_typed_time_is_read_in_the_user_s_zone(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession], typed: str
) -> None:
    await make_world(db)
    async with db() as session:
        await session.execute(update(User).where(User.login == "op101").values(time_zone=USER_ZONE))
        await session.commit()
    context = await browser.new_context(timezone_id=BROWSER_ZONE)
    try:
        page = await context.new_page()
        await page.goto(live_server.address + "/login")
        await page.fill("input[name=login]", "op101")
        await page.fill("input[name=password]", "correct-horse")
        await page.click("form.login button[type=submit]")
        await page.wait_for_url(live_server.address + "/")
        assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
            BROWSER_ZONE
        )
        iso = await page.evaluate("(v) => window.callcenterTime.zonedToIso(v)", typed)
    finally:
        await context.close()
    expected = datetime.fromisoformat(typed).replace(tzinfo=ZoneInfo(USER_ZONE)).astimezone(UTC)
    assert datetime.fromisoformat(iso.replace("Z", "+00:00")) == expected
