"""Schedule a callback and receive its reminder, in chromium against the whole product."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Task
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

MOSCOW = ZoneInfo("Europe/Moscow")  # the operators' time zone (the default)
REMINDER = "[data-testid=task-toast][data-type='task.reminder']"


async def test_an_operator_schedules_a_callback_and_is_reminded_at_its_time(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(db)
    page = await signed_in_page(browser, live_server, "op101")
    # the same operator's console in another window: the reminder shows there too,
    # and its screen-pop channel (now shared with the toasts) is open
    console = await signed_in_page(browser, live_server, "op101")

    await page.goto(f"{live_server.address}/tasks/new?contact_id={world.contact_id}")
    assert await page.get_by_test_id("task-form-client").inner_text() == "Петров Иван"
    await page.select_option("select[name=kind]", "callback")
    await page.fill("input[name=title]", "Перезвонить насчёт счёта")
    due = datetime.now(MOSCOW).replace(microsecond=0) + timedelta(seconds=4)
    await page.fill("input[name=due_date]", due.date().isoformat())
    await page.fill("input[name=due_time]", due.strftime("%H:%M:%S"))
    await page.get_by_test_id("task-save").click()
    await page.wait_for_url(f"{live_server.address}/tasks?day={due.date().isoformat()}")

    async with db() as session:
        task = await session.scalar(select(Task).where(Task.title == "Перезвонить насчёт счёта"))
    assert task is not None and task.due_at == due and task.remind_at == due
    row = page.locator(f"[data-testid=task-row][data-task-id='{task.id}']")
    assert "Петров Иван" in await row.inner_text()

    # until the due time nothing is shown
    await asyncio.sleep(max(0.0, (due - datetime.now(MOSCOW)).total_seconds() - 1))
    assert await page.locator(REMINDER).count() == 0
    assert await console.locator(REMINDER).count() == 0

    toast = page.locator(REMINDER)
    await toast.wait_for(timeout=10000)
    shown_at = datetime.now(MOSCOW)
    assert shown_at >= due - timedelta(seconds=0.2), "the reminder came early"
    assert shown_at < due + timedelta(seconds=3)
    text = await toast.inner_text()
    assert "Перезвонить насчёт счёта" in text and "Петров Иван" in text
    assert "Напоминание" in text
    # in the operator's own zone (Moscow), whatever zone the browser's machine is in
    assert due.strftime("%H:%M") in text
    assert await toast.get_attribute("data-task-id") == str(task.id)
    assert await toast.locator("a.toast-open").get_attribute("href") == (
        f"/clients/{world.contact_id}"
    )
    console_toast = console.locator(REMINDER)
    await console_toast.wait_for(timeout=3000)
    assert "Перезвонить насчёт счёта" in await console_toast.inner_text()
    assert await console.locator("[data-testid=live-state][data-state=open]").count() == 1

    # once: no second toast, and it stays with the operator across a page change
    # until closed
    started = time.monotonic()
    await page.goto(f"{live_server.address}/clients")
    await page.locator(REMINDER).wait_for(timeout=3000)
    assert await page.locator(REMINDER).count() == 1
    await page.locator(f"{REMINDER} .toast-close").click()
    await page.reload()
    await page.wait_for_load_state("load")
    await asyncio.sleep(max(0.0, 1 - (time.monotonic() - started)))
    assert await page.locator(REMINDER).count() == 0
    assert page.js_errors == [] and console.js_errors == []
