"""Ready / Pause and click-to-dial from the console, against the sandbox Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Phone
from callcenter.models import Call, Task
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def add_op104(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        await add_user(
            session,
            login="op104",
            full_name="Сергей Васильев",
            role="operator",
            password="correct-horse",
            extension="104",
            device="PJSIP/op104",
        )
        await session.commit()


async def test_pause_with_a_reason_and_back_to_ready(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    await add_op104(db)
    await wait_ami_connected(live_server.address)
    page = await signed_in_page(browser, live_server, "op104")
    state = page.get_by_test_id("agent-state")
    await page.select_option("[data-testid=agent-controls] select[name=reason]", "Обед")
    await page.click("[data-testid=agent-controls] .agent-pause")
    await page.locator("[data-testid=agent-state][data-state=paused]").wait_for(timeout=5000)
    assert await state.inner_text() == "на паузе (Обед)"
    # the queue really holds op104 as paused: a fresh page asks Asterisk
    await page.reload()
    assert await state.get_attribute("data-state") == "paused"
    await page.click("[data-testid=agent-controls] .agent-ready")
    await page.locator("[data-testid=agent-state][data-state=ready]").wait_for(timeout=5000)
    await page.reload()
    assert await state.get_attribute("data-state") == "ready"


async def test_click_to_dial_a_missed_caller_closes_the_callback(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    now = datetime.now(UTC)
    await add_op104(db)
    async with db() as session:
        missed = Call(
            linkedid="missed.1",
            direction="inbound",
            caller_number="89160000001",
            caller_e164="+79160000001",
            started_at=now - timedelta(minutes=5),
            ended_at=now - timedelta(minutes=4),
            result="missed",
        )
        session.add(missed)
        await session.flush()
        session.add(
            Task(kind="callback", title="Перезвонить: 89160000001", call_id=missed.id, due_at=now)
        )
        await session.commit()
    await wait_ami_connected(live_server.address)
    operator_phone("104", ring_ms=300)
    with Phone.customers(sipp_dir, ring_ms=500, talk_ms=1500):
        page = await signed_in_page(browser, live_server, "op104")
        link = page.locator("[data-testid=callbacks] a.dial")
        assert await link.inner_text() == "Перезвонить: 89160000001"
        await link.click()
        await page.locator("[data-testid=callbacks] a.dial[data-dial-state]").wait_for(timeout=5000)
        # on a refusal the link's title carries the server's reason
        assert await link.get_attribute("data-dial-state") == "dialing", await link.get_attribute(
            "title"
        )
        # the operator's phone rings first (a pop for her own outgoing call), then the client's
        pop = page.locator("[data-testid=pop]")
        await pop.wait_for(timeout=8000)
        await page.locator("[data-testid=pop][data-state=wrapup]").wait_for(timeout=15000)

    # the pop turns to wrap-up on the hangup event; the call log writes the row beside it
    for _ in range(50):
        async with db() as session:
            outbound = (
                await session.execute(select(Call).where(Call.direction == "outbound"))
            ).scalar_one()
            task = (await session.execute(select(Task))).scalar_one()
        if outbound.ended_at is not None and task.status == "done":
            break
        await asyncio.sleep(0.1)
    assert outbound.caller_e164 == "+79160000001" and outbound.result == "answered"
    assert task.status == "done"
