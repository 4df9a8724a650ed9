"""Find a client by a phone fragment, in chromium against the whole product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Phone
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def test_operator_finds_a_client_by_a_phone_fragment_and_dials_them(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
) -> None:
    await make_world(db)
    operator_phone("101", answer=False)  # click-to-dial rings it; hung up at teardown
    page = await signed_in_page(browser, live_server, "op101")
    await page.click("[data-testid=nav-clients]")
    await page.wait_for_url(live_server.address + "/clients")
    await page.fill("input[name=q]", "495 123-45")
    await page.press("input[name=q]", "Enter")
    names = page.get_by_test_id("client-name")
    await names.first.wait_for(timeout=5000)
    assert await names.all_inner_texts() == ["Петров Иван"]
    row = page.locator("[data-testid=client-results] tbody tr")
    assert "ООО «Ромашка»" in await row.inner_text()
    dial = row.locator("a.dial")
    assert await dial.get_attribute("data-dial") == "+74951234567"
    await wait_ami_connected(live_server.address)
    await dial.click()
    await page.locator("a.dial[data-dial-state]").wait_for(timeout=5000)
    assert await dial.get_attribute("data-dial-state") == "dialing", await dial.get_attribute(
        "title"
    )
    assert page.js_errors == []
