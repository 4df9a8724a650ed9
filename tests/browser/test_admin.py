"""An admin sets up a new operator, who signs in and switches the interface to English."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]


async def test_admin_adds_an_operator_who_switches_to_english(
    browser: Any, live_server: LiveServer, db: async_sessionmaker[AsyncSession]
) -> None:
    await make_world(db)  # Анна Смирнова's phone PJSIP/op101 is in the sandbox queue "support"
    async with db() as session:
        await add_user(
            session, login="admin", full_name="Админ", role="admin", password="correct-horse"
        )
        await session.commit()
    admin = await signed_in_page(browser, live_server, "admin")

    # the PBX's queues, members matched to users
    await wait_ami_connected(live_server.address)
    await admin.goto(live_server.address + "/admin/queues")
    support = admin.locator("[data-testid=queue-members][data-queue=support]")
    await support.wait_for(timeout=5000)
    assert "Анна Смирнова" in await support.inner_text()

    await admin.click("[data-testid=nav-admin]")
    await admin.click("a[href='/admin/users']")
    form = admin.locator("[data-testid=add-user]")
    await form.locator("input[name=login]").fill("petrova")
    await form.locator("input[name=full_name]").fill("Ольга Петрова")
    await form.locator("select[name=role]").select_option("operator")
    await form.locator("input[name=extension]").fill("105")
    await form.locator("input[name=interface]").fill("PJSIP/op105")
    await form.locator("input[name=password]").fill("correct-horse")
    await form.locator("button[type=submit]").click()
    await admin.wait_for_url(live_server.address + "/admin/users?saved=1")
    row = admin.locator("[data-testid=users] tr[data-login=petrova]")
    assert "PJSIP/op105" in await row.inner_text()

    operator = await signed_in_page(browser, live_server, "petrova")
    assert "Здравствуйте, Ольга Петрова" in await operator.locator("main").inner_text()
    await operator.click("[data-testid=nav-profile]")
    await operator.wait_for_url(live_server.address + "/profile")
    preferences = operator.locator("[data-testid=preferences]")
    await preferences.locator("select[name=language]").select_option("en")
    await preferences.locator("button[type=submit]").click()
    await operator.wait_for_url(live_server.address + "/profile?saved=1")
    assert await operator.locator("h1").inner_text() == "Profile"
    assert await operator.get_by_test_id("saved").inner_text() == "Changes saved."
    assert await operator.locator("form[action='/logout'] button").inner_text() == "Sign out"
    assert admin.js_errors == [] and operator.js_errors == []
