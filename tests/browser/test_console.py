"""The product end to end: `serve` with real PostgreSQL and the sandbox Asterisk, in chromium."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.users import add_user
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback server
        return json.load(response)


async def wait_ami_connected(address: str, seconds: float = 15) -> dict[str, Any]:
    import asyncio

    body: dict[str, Any] = {}
    for _ in range(int(seconds * 10)):
        body = await asyncio.to_thread(_get_json, address + "/healthz")
        if body["ami"]["connected"]:
            return body
        await asyncio.sleep(0.1)
    return body


async def test_operator_signs_in_and_sees_live_telephony(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        await add_user(
            session,
            login="smirnova",
            full_name="Анна Смирнова",
            role="operator",
            password="demo-password",
            extension="101",
            device="PJSIP/op101",
        )
        await session.commit()
    health = await wait_ami_connected(live_server.address)
    assert health["database"]["ok"] and health["ami"]["connected"], health

    page = await browser.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await page.goto(live_server.address + "/")
    assert page.url.endswith("/login")
    await page.fill("input[name=login]", "smirnova")
    await page.fill("input[name=password]", "wrong-password")
    await page.click("button[type=submit]")
    assert await page.locator("[role=alert]").inner_text() == "Неверный логин или пароль."

    console_errors.clear()  # the 401 of the wrong password is logged as a failed load
    await page.fill("input[name=password]", "demo-password")
    await page.click("form.login button[type=submit]")
    await page.wait_for_url(live_server.address + "/")
    assert await page.get_by_test_id("greeting").inner_text() == "Здравствуйте, Анна Смирнова"
    assert await page.get_by_test_id("extension").inner_text() == "101"
    assert "подключена" in await page.get_by_test_id("telephony-state").inner_text()
    assert console_errors == []  # e.g. a CSP violation would show up here
