"""A preview campaign end to end: a manager sets it up in chromium, an operator works it
and dials through the sandbox Asterisk, the disposition form saves the result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Phone
from callcenter.models import Call, CallAttempt, Campaign, Contact, ContactPhone, Lead, Segment
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.test_campaign_pages import daytime_zone

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

SCRIPT = "Здравствуйте, {first_name}! Это {operator}. Вы всё ещё в «{company}»?"


async def _world(db: async_sessionmaker[AsyncSession]) -> None:
    zone = daytime_zone()  # so that the calling window is open whenever the test runs
    async with db() as session:
        await add_user(
            session,
            login="boss",
            full_name="Руководитель",
            role="manager",
            password="correct-horse",
        )
        await add_user(
            session,
            login="op104",
            full_name="Ольга Петрова",
            role="operator",
            password="correct-horse",
            extension="104",
            device="PJSIP/op104",
        )
        for n, first in enumerate(("Пётр", "Анна")):
            client = Contact(first_name=first, last_name="Кузнецов", tags=["cold"], time_zone=zone)
            session.add(client)
            await session.flush()
            e164 = f"+7916000010{n}"
            session.add(ContactPhone(contact_id=client.id, raw=e164, e164=e164))
        session.add(Segment(name="Холодные", filters={"tags": ["cold"]}))
        await session.commit()


async def test_a_manager_starts_a_preview_campaign_and_an_operator_dials_its_first_lead(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    await _world(db)
    await wait_ami_connected(live_server.address)
    boss = await signed_in_page(browser, live_server, "boss")
    await boss.goto(live_server.address + "/campaigns/new")
    form = boss.locator("[data-testid=campaign-form]")
    await form.locator("input[name=name]").fill("Холодный обзвон")
    await form.locator("textarea[name=script]").fill(SCRIPT)
    await form.locator("input[name=is_advertising]").uncheck()
    await form.locator("[data-testid=operator-op104]").check()
    await boss.click("[data-testid=save-campaign]")
    await boss.wait_for_selector("[data-testid=campaign-title]")
    assert await boss.inner_text("[data-testid=campaign-status]") == "Черновик"

    await boss.click("[data-testid=add-segment]")
    outcome = await boss.inner_text("[data-testid=dial-list-outcome]")
    assert "Добавлено в кампанию: 2" in outcome, outcome
    await boss.click("[data-testid=campaign-start]")
    await boss.wait_for_selector("[data-testid=campaign-pause]")
    assert await boss.inner_text("[data-testid=campaign-status]") == "Идёт"
    assert await boss.inner_text("[data-testid=leads-left]") == "2"

    operator_phone("104", ring_ms=300)
    with Phone.customers(sipp_dir, ring_ms=500, talk_ms=1500):
        olga = await signed_in_page(browser, live_server, "op104")
        await olga.goto(live_server.address + "/work")
        await olga.click("[data-testid=work-campaign]")
        card = olga.locator("[data-testid=lead-card]")
        await card.wait_for()
        assert await card.locator("[data-testid=lead-client-name]").inner_text() == (
            "Кузнецов Пётр"
        )
        script = await card.locator("[data-testid=lead-script]").inner_text()
        assert script == "Здравствуйте, Пётр! Это Ольга Петрова. Вы всё ещё в «{company}»?"

        await olga.click("[data-testid=dial-lead]")
        await olga.wait_for_selector("[data-testid=result-form]")
        async with db() as session:
            attempt = await session.scalar(select(CallAttempt))
            assert attempt is not None
        # the sandbox rang the operator's phone, then the client through the trunk
        call = None
        for _ in range(100):
            async with db() as session:
                call = await session.scalar(
                    select(Call).where(Call.direction == "outbound", Call.ended_at.is_not(None))
                )
            if call is not None:
                break
            await asyncio.sleep(0.1)
        assert call is not None and call.caller_e164 == "+79160000100"
        assert call.answered_at is not None

    await olga.check("[data-testid=disposition-sale]")
    await olga.click("[data-testid=save-result]")
    next_card = olga.locator("[data-testid=lead-client-name]")
    await next_card.wait_for()
    assert await next_card.inner_text() == "Кузнецов Анна"
    async with db() as session:
        first = await session.scalar(select(Lead).where(Lead.phone_e164 == "+79160000100"))
        campaign = await session.scalar(select(Campaign))
        assert first is not None and campaign is not None
        assert (first.status, first.last_result, first.attempts) == ("done", "sale", 1)
        assert campaign.status == "running"
    # the live progress (refreshed every 2 s, the page never reloaded) follows the work
    for _ in range(60):
        if await boss.inner_text("[data-field=leads_left]") == "1":
            break
        await asyncio.sleep(0.1)
    assert await boss.inner_text("[data-field=leads_left]") == "1"
    assert await boss.inner_text("[data-field=dialled]") == "1"
    assert olga.js_errors == [] and boss.js_errors == []
