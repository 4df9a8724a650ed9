"""The client card in chromium against the whole product: find, open, chain a note to a call."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Call, Contact, Interaction
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import T0, make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

HOSTILE = "<img src=x onerror=alert(1)>"


async def test_operator_finds_a_client_by_a_phone_fragment_and_opens_the_card(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(db)
    page = await signed_in_page(browser, live_server, "op101")
    await page.click("[data-testid=nav-clients]")
    await page.fill("input[name=q]", "123-45")
    await page.press("input[name=q]", "Enter")
    await page.get_by_test_id("client-name").first.wait_for(timeout=5000)
    await page.get_by_test_id("client-name").get_by_role("link").click()
    await page.wait_for_url(f"{live_server.address}/clients/{world.contact_id}")
    assert await page.get_by_test_id("client-title").inner_text() == "Петров Иван"
    assert await page.get_by_test_id("client-company").inner_text() == "ООО «Ромашка»"
    assert await page.get_by_test_id("client-manager").inner_text() == "Дмитрий Кузнецов"
    dial = page.get_by_test_id("client-phones").locator("a.dial")
    assert await dial.get_attribute("data-dial") == "+74951234567"
    # make_world's note is on the timeline
    assert "Просил счёт" in await page.get_by_test_id("timeline").inner_text()
    assert page.js_errors == []


async def test_a_note_is_added_following_an_earlier_call_and_hostile_text_stays_text(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await make_world(db)
    async with db() as session:
        ivan = await session.get(Contact, world.contact_id)
        assert ivan is not None
        ivan.display_name = HOSTILE
        call = Call(
            linkedid="1700000000.77",
            direction="inbound",
            caller_number="84951234567",
            started_at=T0,
            contact_id=world.contact_id,
            answered_by_id=world.operators["101"].id,
            talk_seconds=95,
            result="answered",
        )
        session.add(call)
        await session.flush()
        call_entry = Interaction(
            contact_id=world.contact_id, kind="call", call_id=call.id, occurred_at=T0
        )
        session.add(call_entry)
        await session.commit()
    page = await signed_in_page(browser, live_server, "op101")
    await page.goto(f"{live_server.address}/clients/{world.contact_id}")
    assert await page.get_by_test_id("client-title").inner_text() == HOSTILE

    call_item = page.locator(f"#entry-{call_entry.id}")
    assert await call_item.get_attribute("data-kind") == "call"
    assert "Входящий звонок" in await call_item.inner_text()
    assert "1:35" in await call_item.inner_text()

    form = page.get_by_test_id("note-form")
    await form.locator("textarea[name=text]").fill(HOSTILE + " обещал оплатить")
    await form.get_by_test_id("note-follows").select_option(str(call_entry.id))
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(f"**/clients/{world.contact_id}#entry-*")

    note_id = int(page.url.rsplit("#entry-", 1)[1])
    note = page.locator(f"#entry-{note_id}")
    assert await note.get_attribute("data-kind") == "note"
    assert await note.get_by_test_id("entry-text").inner_text() == HOSTILE + " обещал оплатить"
    follows = note.get_by_test_id("entry-follows")
    assert await follows.get_attribute("data-follows-id") == str(call_entry.id)
    assert "Звонок" in await follows.inner_text()
    # the reference leads to the call it follows
    await follows.get_by_role("link").click()
    await page.wait_for_url(f"**#entry-{call_entry.id}")
    assert page.js_errors == []  # no alert(1): the hostile text was never markup

    async with db() as session:
        stored = await session.get(Interaction, note_id)
        assert stored is not None and stored.previous_interaction_id == call_entry.id
        assert stored.author_id == world.operators["101"].id
