"""The screen-pop end to end: sipp calls into the sandbox Asterisk, operators watch in chromium."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Caller, Phone
from callcenter.models import Call, Contact, ContactPhone, Disposition, Interaction
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def signed_in_page(browser: Any, server: LiveServer, login: str) -> Any:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append("dialog: " + dialog.message))
    page.js_errors = errors
    await page.goto(server.address + "/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", "correct-horse")
    await page.click("form.login button[type=submit]")
    await page.wait_for_url(server.address + "/")
    await page.wait_for_selector("[data-testid=live-state][data-state=open]")
    return page


async def call_row(db: async_sessionmaker[AsyncSession], linkedid: str) -> Call | None:
    async with db() as session:
        return (
            await session.execute(select(Call).where(Call.linkedid == linkedid))
        ).scalar_one_or_none()


@pytest.mark.parametrize("caller_number", ["84951234567", "+74951234567", "4951234567"])
async def test_ringall_queue_pops_both_operators_and_the_answer_withdraws_one(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
    caller_number: str,
) -> None:
    world = await make_world(db)
    async with db() as session:
        await add_user(
            session,
            login="op103",
            full_name="Елена Попова",
            role="operator",
            password="correct-horse",
            extension="103",
            device="PJSIP/op103",
        )
        # migration 0004 installs "sale" with the default call results
        sale = await session.execute(select(Disposition.id).where(Disposition.code == "sale"))
        if sale.first() is None:
            session.add(Disposition(code="sale", label_ru="Продажа", label_en="Sale"))
        await session.commit()
    await wait_ami_connected(live_server.address)
    anna = await signed_in_page(browser, live_server, "op101")
    dmitry = await signed_in_page(browser, live_server, "op102")
    elena = await signed_in_page(browser, live_server, "op103")  # her phone never rings

    operator_phone("101", ring_ms=2500)
    operator_phone("102", answer=False)
    sipp_caller(did="74951112233", cidnum=caller_number, cidname="Ivan", hold_ms=2500)

    # before anyone answers, both ringing operators see who calls
    for page in (anna, dmitry):
        pop = page.locator("[data-testid=pop][data-state=ringing]")
        await pop.wait_for(timeout=5000)
        assert await pop.get_by_test_id("pop-name").inner_text() == "Петров Иван"
        assert "ООО «Ромашка»" in await pop.inner_text()
        assert "клиент" in await pop.locator(".pop-status").inner_text()
        assert not await pop.locator("form.wrapup").is_visible()  # only after the call
    linkedid = await anna.locator("[data-testid=pop]").get_attribute("data-linkedid")

    # op101 answers: her card turns to the conversation, op102's pop is withdrawn
    await anna.locator("[data-testid=pop][data-state=talking]").wait_for(timeout=5000)
    await dmitry.locator("[data-testid=pop]").wait_for(state="detached", timeout=5000)
    assert await elena.locator("[data-testid=pop]").count() == 0

    # the caller hangs up: the after-call form, saved to the call and the timeline
    form = anna.locator("[data-testid=pop][data-state=wrapup] form.wrapup")
    await form.wait_for(timeout=8000)
    await form.locator("select[name=disposition]").select_option("sale")
    await form.locator("textarea[name=note]").fill("Договорились о встрече")
    await form.locator("button[type=submit]").click()
    await anna.locator(".wrapup-status", has_text="Сохранено").wait_for(timeout=5000)

    call = await call_row(db, linkedid)
    assert call is not None
    assert call.answered_by_id == world.operators["101"].id
    assert call.result == "answered" and call.contact_id == world.contact_id
    assert call.wait_seconds is not None and call.wait_seconds >= 2
    assert call.talk_seconds is not None and call.talk_seconds >= 2
    assert call.note == "Договорились о встрече" and call.disposition_id is not None
    async with db() as session:
        kinds = set(
            (
                await session.execute(
                    select(Interaction.kind).where(Interaction.call_id == call.id)
                )
            ).scalars()
        )
    assert kinds == {"call", "note"}
    for page in (anna, dmitry, elena):
        assert page.js_errors == []


async def test_hostile_caller_name_is_shown_as_text(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    await wait_ami_connected(live_server.address)
    anna = await signed_in_page(browser, live_server, "op101")
    operator_phone("101", ring_ms=3000)
    hostile = "<img src=x onerror=alert(1)>"
    sipp_caller(did="74951112233", cidnum="84950001122", cidname=hostile, hold_ms=500)
    pop = anna.locator("[data-testid=pop]")
    await pop.wait_for(timeout=5000)
    assert await pop.get_by_test_id("pop-name").inner_text() == hostile
    assert await anna.locator("#pops img").count() == 0
    # after the call the console's call log lists it, the name still as text
    await anna.locator("[data-testid=pop][data-state=wrapup]").wait_for(timeout=10000)
    await anna.reload()
    log = anna.get_by_test_id("recent-calls")
    assert await log.locator(".caller-name").inner_text() == hostile
    assert await anna.locator("img").count() == 0
    assert anna.js_errors == []


@pytest.mark.parametrize(
    ("number", "shown"), [("89165557788", "Неизвестный номер"), ("anonymous", "Номер скрыт")]
)
async def test_unknown_caller_becomes_a_client_from_the_pop(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
    number: str,
    shown: str,
) -> None:
    await make_world(db)
    await wait_ami_connected(live_server.address)
    anna = await signed_in_page(browser, live_server, "op101")
    operator_phone("101", ring_ms=8000)
    sipp_caller(did="74951112233", cidnum=number, cidname="", hold_ms=500)
    pop = anna.locator("[data-testid=pop]")
    await pop.wait_for(timeout=5000)
    assert await pop.get_by_test_id("pop-name").inner_text() == shown
    form = pop.get_by_test_id("new-client")
    if number == "anonymous":
        assert not await form.is_visible()  # nothing to save without a number
        return
    await form.locator("input[name=name]").fill("Ольга Сидорова")
    await form.locator("input[name=company]").fill("ИП Сидорова")
    await form.locator("button[type=submit]").click()
    await pop.get_by_test_id("pop-name").filter(has_text="Ольга Сидорова").wait_for(timeout=5000)
    assert "ИП Сидорова" in await pop.inner_text()
    async with db() as session:
        phone = (
            await session.execute(select(ContactPhone).where(ContactPhone.e164 == "+79165557788"))
        ).scalar_one()
        contact = await session.get(Contact, phone.contact_id)
    assert contact is not None and contact.display_name == "Ольга Сидорова"
    assert contact.status == "lead"
    assert anna.js_errors == []
