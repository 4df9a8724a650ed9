"""A progressive campaign through the whole product: the dialer in ``callcenter serve``
rings the client, the operator's console pops the client with the campaign's script,
and after the talk the operator writes the lead's result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Phone
from callcenter.models import Call, CallAttempt, Contact, ContactPhone, Lead, RefusalReason
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.dialer_engine_helpers import ANSWERS, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

SCRIPT = "Здравствуйте, {first_name}! Это {operator}, звоню по поводу {custom.offer}."


async def test_the_operator_gets_the_client_and_script_then_writes_the_result(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    customers: Callable[..., Phone],
) -> None:
    number = ANSWERS + "0201"
    floor = await make_campaign(db, [number], script=SCRIPT, status="draft")
    async with db() as session:
        client = Contact(first_name="Пётр", last_name="Лидов")
        session.add(client)
        await session.flush()
        session.add(ContactPhone(contact_id=client.id, raw=number, e164=number))
        lead = await session.get(Lead, floor.leads[number])
        assert lead is not None
        lead.contact_id, lead.fields = client.id, {"offer": "тарифа «Бизнес»"}
        reason = await session.scalar(select(RefusalReason).where(RefusalReason.name == "Дорого"))
        assert reason is not None
        await add_user(
            session,
            login="boss",
            full_name="Руководитель",
            role="manager",
            password="correct-horse",
        )
        await session.commit()
    await wait_ami_connected(live_server.address)
    page = await signed_in_page(browser, live_server, "op106")
    operator_phone("106", ring_ms=500)
    customers(ring_ms=300, talk_ms=2500)

    boss = await signed_in_page(browser, live_server, "boss")
    await boss.goto(f"{live_server.address}/campaigns/{floor.campaign_id}")
    await boss.click("[data-testid=campaign-start]")
    await boss.wait_for_selector("[data-testid=campaign-pause]")

    pop = page.locator("[data-testid=pop]")
    await pop.wait_for(timeout=20_000)
    assert await pop.locator("[data-testid=pop-name]").inner_text() == "Лидов Пётр"
    script = await pop.locator("[data-testid=pop-script]").inner_text()
    assert script == "Здравствуйте, Пётр! Это Оператор 106, звоню по поводу тарифа «Бизнес»."
    result = pop.locator("[data-testid=pop-result]")
    await result.wait_for(timeout=20_000)  # shown once the talk is over
    await result.click()

    await page.wait_for_selector("[data-testid=result-form]")
    assert await page.locator("[data-testid=not-connected-form]").count() == 0
    await page.check("[data-testid=disposition-not_interested]")
    await page.select_option("[data-testid=refusal-reason]", str(reason.id))
    await page.click("[data-testid=save-result]")
    await page.wait_for_url(live_server.address + "/")

    async with db() as session:
        lead = await session.get(Lead, floor.leads[number])
        attempt = await session.scalar(select(CallAttempt).where(CallAttempt.lead_id == lead.id))
        client_after = await session.get(Contact, client.id)
        call = await session.scalar(select(Call).where(Call.lead_id == lead.id))
    assert lead is not None and attempt is not None and client_after is not None
    assert (lead.status, lead.last_result) == ("done", "not_interested")
    assert attempt.outcome == "answered"
    assert (client_after.status, client_after.refusal_reason_id) == ("refused", reason.id)
    assert call is not None and call.answered_by_id == floor.operators["106"].id
    assert call.disposition_id is not None
    assert page.js_errors == [] and boss.js_errors == []
