"""Move a deal to the lost stage with a reason, in chromium against the whole product."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Deal, DealStageChange
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def test_move_a_deal_to_refused_with_a_reason(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(db)  # the deal "Поставка окон" in "Переговоры"
    page = await signed_in_page(browser, live_server, "op101")
    await page.click("[data-testid=nav-deals]")
    await page.wait_for_url(live_server.address + "/deals")
    card = page.get_by_test_id("deal-card").filter(has_text="Поставка окон")
    assert "Петров Иван" in await card.inner_text()
    await card.get_by_role("link", name="Поставка окон").click()
    await page.wait_for_selector("[data-testid=deal][data-state=open]")
    deal_url = page.url

    reason_choice = page.get_by_test_id("reason-choice")
    assert await reason_choice.is_hidden()  # an open stage needs no reason
    await page.get_by_test_id("move-stage").select_option(label="Отказ")
    assert await reason_choice.is_visible()

    # no reason chosen: the server refuses and the deal stays where it was
    await page.get_by_test_id("move-submit").click()
    error = page.get_by_test_id("reason-error")
    await error.wait_for(timeout=5000)
    assert await error.inner_text() == "Выберите, почему клиент отказался."
    assert await page.get_by_test_id("deal-stage").inner_text() == "Переговоры"
    assert await reason_choice.is_visible()  # still asking, with the lost stage kept

    await page.get_by_test_id("move-reason").select_option(label="Выбрали конкурента")
    await page.get_by_test_id("move-submit").click()
    await page.wait_for_selector("[data-testid=deal][data-state=lost]")
    assert page.url == deal_url
    assert await page.get_by_test_id("deal-stage").inner_text() == "Отказ"
    assert await page.get_by_test_id("deal-reason").inner_text() == "Выбрали конкурента"
    last_change = page.get_by_test_id("stage-change").last
    cells = await last_change.locator("td").all_inner_texts()
    assert cells[1:] == ["Переговоры", "Отказ", "Анна Смирнова"]
    assert page.js_errors == []

    async with db() as session:
        deal = await session.scalar(select(Deal).where(Deal.contact_id == world.contact_id))
        assert deal is not None and deal.stage_is_lost and deal.closed_at is not None
        changes = list(
            await session.scalars(select(DealStageChange).where(DealStageChange.deal_id == deal.id))
        )
    assert [c.changed_by_id for c in changes] == [world.operators["101"].id]
