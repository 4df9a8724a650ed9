"""Where a client is, in chromium: the card shows region, zone and local time; the form
overrides them; the segment form offers the regions and zones clients have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.users import add_user
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


def clock_readings(zone: str) -> set[str]:
    """The wall-clock minute there now, and the next (the page may be read across it)."""
    now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    return {(now + timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}


async def test_the_card_shows_where_the_client_is_and_a_person_can_override_it(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(db)  # Петров Иван, 8 (495) 123-45-67, stored with no place
    async with db() as session:
        await add_user(
            session, login="boss", full_name="Ольга Босс", role="admin", password="correct-horse"
        )
        await session.commit()
    page = await signed_in_page(browser, live_server, "op102")
    card = f"{live_server.address}/clients/{world.contact_id}"
    await page.goto(card)
    assert await page.get_by_test_id("client-region").inner_text() == "—"

    # saving the form as it is fills the empty place from the phone
    await page.goto(card + "/edit")
    await page.get_by_test_id("save-client").click()
    await page.wait_for_url(card)
    assert await page.get_by_test_id("client-region").inner_text() == "Московская обл."
    zone = await page.get_by_test_id("client-time-zone").inner_text()
    assert zone.startswith("Europe/Moscow")
    local = await page.get_by_test_id("client-local-time").inner_text()
    assert any(f"там сейчас {hhmm}" == local for hhmm in clock_readings("Europe/Moscow")), local

    # the client moved: a person's choice wins over the phone from now on
    await page.goto(card + "/edit")
    await page.get_by_test_id("client-region-input").fill("Приморский край")
    await page.get_by_test_id("client-time-zone-input").select_option("Asia/Vladivostok")
    await page.get_by_test_id("save-client").click()
    await page.wait_for_url(card)
    assert await page.get_by_test_id("client-region").inner_text() == "Приморский край"
    local = await page.get_by_test_id("client-local-time").inner_text()
    assert any(hhmm in local for hhmm in clock_readings("Asia/Vladivostok")), local
    assert page.js_errors == []

    # a manager's segment form offers what clients have
    boss = await signed_in_page(browser, live_server, "boss")
    await boss.goto(f"{live_server.address}/segments/new")
    offered = await boss.locator("#segment-regions option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert offered == ["Приморский край"]
    zones = boss.get_by_test_id("segment-time-zone").locator("option")
    assert await zones.all_inner_texts() == ["—", "Asia/Vladivostok"]
    assert boss.js_errors == []
