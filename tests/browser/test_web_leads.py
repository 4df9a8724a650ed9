"""A visitor sends a customer website's form; the right manager sees the task at once."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import web_form_sites
from callcenter.users import add_user
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer, free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

TITLE = "Заявка с сайта okna.example.ru: "


@pytest.fixture
async def customer_site(live_server: LiveServer) -> AsyncIterator[tuple[str, list[str]]]:
    """A customer's website on another port, whose page holds a plain lead form; the token
    is filled in by the test, through a list it shares with the site."""
    token: list[str] = []

    async def page(request: web.Request) -> web.Response:
        form = f"""<!doctype html><html><head><meta charset="utf-8"><title>Окна</title></head>
<body><h1>Замер бесплатно</h1>
<form method="post" action="{live_server.address}/api/v1/leads">
  <input type="hidden" name="token" value="{html.escape(token[0])}">
  <input name="name" placeholder="Имя"><input name="phone" type="tel">
  <input type="hidden" name="utm_source" value="yandex">
  <button type="submit">Отправить</button>
</form></body></html>"""
        return web.Response(text=form, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/", token
    finally:
        await runner.cleanup()


async def send_form(browser: Any, url: str, name: str, phone: str) -> None:
    visitor = await browser.new_page()  # a context of its own: no session of ours
    try:
        await visitor.goto(url)
        await visitor.fill("input[name=name]", name)
        await visitor.fill("input[name=phone]", phone)
        await visitor.click("button[type=submit]")
        await visitor.locator("[data-testid=lead-answer][data-sent=yes]").wait_for(timeout=5000)
    finally:
        await visitor.close()


async def test_a_web_form_lead_pops_up_live_for_the_manager_whose_turn_it_is(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    customer_site: tuple[str, list[str]],
) -> None:
    url, token = customer_site
    async with db() as session:
        for login, name in (("volkov", "Игорь Волков"), ("zaitseva", "Мария Зайцева")):
            await add_user(
                session, login=login, full_name=name, role="manager", password="correct-horse"
            )
        _, site_token = await web_form_sites.add_site(session, "okna.example.ru", None)
        await session.commit()
    token.append(site_token)
    first = await signed_in_page(browser, live_server, "volkov")
    second = await signed_in_page(browser, live_server, "zaitseva")
    first_toasts = first.get_by_test_id("task-toast")
    second_toasts = second.get_by_test_id("task-toast")

    await send_form(browser, url, "Ольга", "8 916 123-45-67")
    await first_toasts.first.wait_for(timeout=5000)
    assert TITLE + "Ольга" in await first_toasts.first.inner_text()
    await asyncio.sleep(0.5)  # what a wrong delivery would need to arrive
    assert await second_toasts.count() == 0

    # the next lead is the other manager's turn
    await send_form(browser, url, "Пётр", "+7 903 765-43-21")
    await second_toasts.first.wait_for(timeout=5000)
    assert TITLE + "Пётр" in await second_toasts.first.inner_text()
    await asyncio.sleep(0.5)
    assert await first_toasts.count() == 1
    assert first.js_errors == [] and second.js_errors == []
