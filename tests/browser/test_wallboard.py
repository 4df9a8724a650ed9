"""The wallboard in chromium during real sipp calls: a caller waits in the queue while both
operators' phones ring, then gives up; the board follows within a second, pushed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import ImpatientCaller, Phone
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def test_a_waiting_caller_shows_then_counts_as_abandoned(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    await make_world(db)  # op101 Анна Смирнова, op102 Дмитрий Кузнецов: the queue "support"
    async with db() as session:
        await add_user(
            session, login="boss", full_name="Ольга", role="supervisor", password="correct-horse"
        )
        await session.commit()
    await wait_ami_connected(live_server.address)
    operator_phone("101", answer=False)
    operator_phone("102", answer=False)
    page = await signed_in_page(browser, live_server, "boss")
    await page.goto(live_server.address + "/wallboard")
    await page.wait_for_selector("[data-testid=wallboard][data-ready=yes]")
    assert await page.inner_text("[data-testid=wb-abandoned]") == "0"
    # the API's first picture, then only websocket messages: no more requests for it
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/v1/wallboard" in r.url else None)

    with ImpatientCaller(sipp_dir, cidnum="84957654321", wait_ms=6000):
        queue = page.locator("[data-testid=wb-queues] tr[data-queue=support]")
        await queue.wait_for(timeout=10_000)
        assert await queue.get_attribute("data-waiting") == "1"
        ringing = page.locator("[data-testid=wb-operators] tr[data-state=ringing]")
        await ringing.first.wait_for(timeout=10_000)
        assert await page.locator("[data-testid=wb-calls] tr[data-state=waiting]").count() == 1
        abandoned = page.locator("[data-testid=wb-abandoned]")
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=wb-abandoned]').textContent === '1'",
            timeout=15_000,
        )
        gone_at = time.monotonic()
    assert await abandoned.inner_text() == "1"
    await queue.wait_for(state="detached", timeout=5_000)
    assert time.monotonic() - gone_at < 5
    assert api_calls == []
    await page.goto(live_server.address + "/wallboard?tv=1")
    await page.wait_for_selector(".wallboard.tv[data-ready=yes]")
    assert page.js_errors == []
