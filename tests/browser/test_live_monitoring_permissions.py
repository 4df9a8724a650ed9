"""Listen, whisper, barge from the wallboard in chromium, during a real sipp call to op101:
the supervisor of op101's team clicks Listen and ChanSpy rings their own phone into the
call; a supervisor of another team sees no buttons, and a request sent from their page
is refused in their language; an operator has no wallboard, and the spy API refuses
their browser session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import sandbox_cli
from ami.sandbox.sipp import Caller, Phone
from callcenter.models import AuditEntry, Team, User
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

REFUSED = "only the supervisor of this operator's team may join their calls"
REFUSED_RU = "Подключаться к разговорам оператора может только супервизор его группы"


async def _floor(db: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    """op101 and op102 in "Продажи" with their supervisor "boss" (phone 110); "stranger"
    (phone 109) supervises "Поддержка"; an admin with no team."""
    world = await make_world(db)
    async with db() as session:
        sales, support = Team(name="Продажи"), Team(name="Поддержка")
        session.add_all([sales, support])
        await session.flush()
        await session.execute(
            update(User)
            .where(User.id.in_([op.id for op in world.operators.values()]))
            .values(team_id=sales.id)
        )
        staff = {f"op{ext}": op for ext, op in world.operators.items()}
        for login, role, ext, team in (
            ("boss", "supervisor", "110", sales),
            ("stranger", "supervisor", "109", support),
            ("admin", "admin", None, None),
        ):
            user = await add_user(
                session,
                login=login,
                full_name=login,
                role=role,
                password="correct-horse",
                extension=ext,
                device=f"PJSIP/op{ext}" if ext else None,
            )
            user.team_id = team.id if team else None
            staff[login] = user
        await session.commit()
    return staff


def _channels() -> list[list[str]]:
    # channel!context!exten!priority!state!application!data!...
    lines = sandbox_cli("core show channels concise").splitlines()
    return [line.split("!") for line in lines if "!" in line]


async def channels() -> list[list[str]]:
    return await asyncio.to_thread(_channels)  # the live server shares this event loop


async def wait_for_channels(
    condition: Callable[[list[list[str]]], bool], what: str, timeout: float = 15
) -> list[list[str]]:
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await channels()
                if condition(found):
                    return found
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout} s") from None


def spying(found: list[list[str]]) -> list[list[str]]:
    return [channel for channel in found if channel[5] == "ChanSpy"]


async def audited_joins(db: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.entity_id).where(
                AuditEntry.action.like("call.%")
            )
        )
        return [tuple(row) for row in rows]


async def wallboard_row(page: Any, server: LiveServer, operator: User) -> Any:
    """op101's row on the page's wallboard, once it shows her talking."""
    await page.goto(server.address + "/wallboard")
    await page.wait_for_selector("[data-testid=wallboard][data-ready=yes]")
    row = page.locator(f"[data-testid=wb-operators] tr[data-user-id='{operator.id}']")
    await row.and_(page.locator("[data-state=talking]")).wait_for(timeout=20_000)
    return row


async def test_only_the_team_s_supervisor_listens_in_from_the_wallboard(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    staff = await _floor(db)
    anna = staff["op101"]
    await wait_ami_connected(live_server.address)
    operator_phone("101", ring_ms=200)
    operator_phone("110", ring_ms=200)  # the team's supervisor's own phone
    operator_phone("109", ring_ms=200)  # the other supervisor's: it would answer a spy call
    stranger = await signed_in_page(browser, live_server, "stranger")
    boss = await signed_in_page(browser, live_server, "boss")
    admin = await signed_in_page(browser, live_server, "admin")
    sipp_caller(did="101", cidnum="84951234567", cidname="Ivan", hold_ms=30_000)

    # the buttons are on the talking operator's row only, and only for supervisors
    boss_row = await wallboard_row(boss, live_server, anna)
    buttons = boss_row.locator("button[data-mode]")
    assert [await b.get_attribute("data-mode") for b in await buttons.all()] == [
        "listen",
        "whisper",
        "barge",
    ]
    assert await boss_row.get_by_test_id("wb-listen").inner_text() == "Слушать"
    ready = boss.locator(f"[data-testid=wb-operators] tr[data-user-id='{staff['op102'].id}']")
    assert await ready.get_attribute("data-state") != "talking"
    assert await ready.locator("button").count() == 0
    admin_row = await wallboard_row(admin, live_server, anna)
    assert await admin_row.locator("button").count() == 0

    # another team's supervisor gets no buttons; asked all the same (a script in their
    # page), the server refuses, in the reader's language: nothing rung, nothing audited
    stranger_row = await wallboard_row(stranger, live_server, anna)
    assert await stranger_row.locator("button").count() == 0
    refused = await stranger.evaluate(
        """async (url) => {
            const response = await fetch(url, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ mode: "listen" }),
            });
            return { status: response.status, body: await response.json() };
        }""",
        f"/api/v1/operators/{anna.id}/spy",
    )
    assert refused == {"status": 403, "body": {"error": REFUSED, "message": REFUSED_RU}}
    assert await audited_joins(db) == []

    await boss_row.get_by_test_id("wb-listen").click()
    await boss.get_by_test_id("wb-join-status").filter(has_text="Слушать…").wait_for(timeout=5000)
    found = await wait_for_channels(lambda cs: bool(spying(cs)), "the supervisor's ChanSpy")
    # exactly one spy, from the boss's phone, listening (q: no beep, E, S) to op101; the
    # stranger's phone, asked before, was never rung
    ((spy_channel, context, exten, _, _, application, data, *_),) = spying(found)
    assert spy_channel.startswith("PJSIP/op110-")
    assert (context, exten, application, data) == (
        "supervisor-spy",
        "listen",
        "ChanSpy",
        "PJSIP/op101-,qES",
    )
    assert not [c for c in found if c[0].startswith("PJSIP/op109-")]
    assert await audited_joins(db) == [(staff["boss"].id, "call.listen", str(anna.id))]
    for page in (boss, stranger, admin):
        assert page.js_errors == []


async def test_an_operator_has_no_wallboard_and_cannot_spy_from_their_session(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    staff = await _floor(db)
    anna = staff["op101"]
    await wait_ami_connected(live_server.address)
    operator_phone("101", ring_ms=200)
    operator_phone("102", ring_ms=200)  # op102's own phone: a spy call would ring it
    dmitry = await signed_in_page(browser, live_server, "op102")
    sipp_caller(did="101", cidnum="84951234567", cidname="Ivan", hold_ms=30_000)
    await wait_for_channels(
        lambda cs: any(c[0].startswith("PJSIP/op101-") and c[4] == "Up" for c in cs),
        "op101 talking",
        timeout=20,
    )

    response = await dmitry.goto(live_server.address + "/wallboard")
    assert response.status == 403
    assert await dmitry.locator("[data-testid=wallboard]").count() == 0
    await dmitry.goto(live_server.address + "/")
    # what a script in op102's own console could send: his cookie, this origin
    answer = await dmitry.evaluate(
        """async (url) => {
            const response = await fetch(url, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ mode: "listen" }),
                credentials: "same-origin",
            });
            return { status: response.status, text: await response.text() };
        }""",
        f"/api/v1/operators/{anna.id}/spy",
    )
    assert answer == {"status": 403, "text": "this page is not for your role"}
    # the same session from outside the page (no Origin header): refused as well
    outside = await dmitry.request.post(
        live_server.address + f"/api/v1/operators/{anna.id}/spy", data={"mode": "barge"}
    )
    assert outside.status == 403
    # the supervisors' API is not refused for want of a session or a call: the boss's works
    async with db() as session:
        await session.execute(update(User).where(User.login == "boss").values(interface=None))
        await session.commit()
    boss = await signed_in_page(browser, live_server, "boss")
    reached = await boss.evaluate(
        """async (url) => (await fetch(url, {
            method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ mode: "listen" }), credentials: "same-origin",
        })).status""",
        f"/api/v1/operators/{anna.id}/spy",
    )
    assert reached == 409  # past every permission check: only his phone is missing
    assert spying(await channels()) == []
    assert await audited_joins(db) == []
    assert dmitry.js_errors == []
