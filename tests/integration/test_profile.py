"""``/profile``: language, time zone, password, duty and API tokens of the signed-in user."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import ApiToken, User, WebSession
from tests.integration.staff_helpers import (
    ClientFactory,
    Staff,
    make_staff,
    sign_in,
    web_client,
)

pytestmark = pytest.mark.db


@pytest.fixture
async def staff(db: async_sessionmaker[AsyncSession]) -> Staff:
    return await make_staff(db)


@pytest.fixture
async def operator(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, staff: Staff
) -> TestClient[Any, Any]:
    client = await web_client(db, aiohttp_client)
    assert (await sign_in(client, "operator")).status == 303
    return client


async def test_switching_to_english_changes_the_interface_at_once(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    page = await (await operator.get("/profile")).text()
    assert "Профиль" in page and "Часовой пояс" in page
    response = await operator.post(
        "/profile", data={"language": "en", "time_zone": "Europe/Moscow"}, allow_redirects=False
    )
    assert response.status == 303
    english = await (await operator.get("/profile")).text()
    assert "Profile" in english and "Time zone" in english and "Changes saved." not in english
    assert "Профиль" not in english
    console = await (await operator.get("/")).text()
    assert "Hello, Test operator" in console and "Sign out" in console
    async with db() as session:
        user = await session.get(User, staff.users["operator"].id)
        assert user is not None and user.language == "en"


async def test_time_zone_changes_how_a_known_moment_is_shown(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    await operator.post("/profile/tokens", data={"token_name": "1C"})
    async with db() as session:
        await session.execute(
            update(ApiToken).values(created_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
        )
        await session.commit()
    moscow = await (await operator.get("/profile")).text()
    assert "01.03.2025 15:00" in moscow
    await operator.post("/profile", data={"language": "ru", "time_zone": "Asia/Vladivostok"})
    vladivostok = await (await operator.get("/profile")).text()
    assert "01.03.2025 22:00" in vladivostok and "01.03.2025 15:00" not in vladivostok
    assert '<option value="Asia/Vladivostok" selected>' in vladivostok


async def test_an_unknown_time_zone_or_language_is_refused_and_nothing_changes(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    response = await operator.post("/profile", data={"language": "de", "time_zone": "Mars/Base"})
    text = await response.text()
    assert response.status == 400
    assert "Выберите язык." in text and "Выберите часовой пояс." in text
    async with db() as session:
        user = await session.get(User, staff.users["operator"].id)
        assert user is not None
    assert (user.language, user.time_zone) == ("ru", "Europe/Moscow")


async def test_changing_the_password_needs_the_current_one_and_signs_out_elsewhere(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    wrong = await operator.post(
        "/profile/password",
        data={"current_password": "guess", "new_password": "brand-new-1", "repeat_password": "x"},
    )
    text = await wrong.text()
    assert wrong.status == 400
    assert "Текущий пароль неверен." in text
    mismatch = await operator.post(
        "/profile/password",
        data={
            "current_password": "correct-horse",
            "new_password": "brand-new-1",
            "repeat_password": "brand-new-2",
        },
    )
    assert "Пароли не совпадают." in await mismatch.text()
    response = await operator.post(
        "/profile/password",
        data={
            "current_password": "correct-horse",
            "new_password": "brand-new-1",
            "repeat_password": "brand-new-1",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    # this browser stays signed in; the session make_staff opened elsewhere is gone
    assert (await operator.get("/profile", allow_redirects=False)).status == 200
    async with db() as session:
        sessions = await session.scalar(
            select(func.count()).where(WebSession.user_id == staff.users["operator"].id)
        )
    assert sessions == 1
    operator.session.cookie_jar.clear()
    assert (await sign_in(operator, "operator")).status == 401
    assert (await sign_in(operator, "operator", "brand-new-1")).status == 303


async def test_only_managers_go_on_and_off_duty(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, staff: Staff
) -> None:
    client = await web_client(db, aiohttp_client)
    await sign_in(client, "manager")
    assert 'data-testid="duty"' in await (await client.get("/profile")).text()
    await client.post("/profile/duty", data={})  # the box unticked
    async with db() as session:
        manager = await session.get(User, staff.users["manager"].id)
        assert manager is not None and manager.is_on_duty is False

    client.session.cookie_jar.clear()
    await sign_in(client, "operator")
    assert 'data-testid="duty"' not in await (await client.get("/profile")).text()
    refused = await client.post("/profile/duty", data={})
    assert refused.status == 400
    async with db() as session:
        operator = await session.get(User, staff.users["operator"].id)
        assert operator is not None and operator.is_on_duty is True


async def test_a_personal_api_token_is_shown_once_works_and_can_be_revoked(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    unnamed = await operator.post("/profile/tokens", data={"token_name": "  "})
    assert unnamed.status == 400
    issued = await operator.post("/profile/tokens", data={"token_name": "Скрипт 1С"})
    page = await issued.text()
    assert issued.status == 200 and issued.headers["Cache-Control"] == "no-store"
    start = page.index('data-testid="new-token">') + len('data-testid="new-token">')
    token = page[start : page.index("</code>", start)]
    assert len(token) > 30
    again = await (await operator.get("/profile")).text()
    assert "Скрипт 1С" in again and token not in again  # never shown again

    bearer = {"Authorization": f"Bearer {token}"}
    operator.session.cookie_jar.clear()
    assert (await operator.get("/api/v1/clients?q=test", headers=bearer)).status == 200

    async with db() as session:
        token_id = await session.scalar(select(ApiToken.id))
    # another user cannot revoke it
    await sign_in(operator, "manager")
    assert (await operator.post(f"/profile/tokens/{token_id}/revoke")).status == 404
    operator.session.cookie_jar.clear()
    await sign_in(operator, "operator")
    revoked = await operator.post(f"/profile/tokens/{token_id}/revoke", allow_redirects=False)
    assert revoked.status == 303
    operator.session.cookie_jar.clear()
    assert (await operator.get("/api/v1/clients?q=test", headers=bearer)).status == 401


async def test_guessing_the_current_password_backs_off_like_signing_in(
    operator: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    def attempt(current: str) -> dict[str, str]:
        return {
            "current_password": current,
            "new_password": "brand-new-1",
            "repeat_password": "brand-new-1",
        }

    for _ in range(5):
        assert (await operator.post("/profile/password", data=attempt("guess"))).status == 400
    refused = await operator.post("/profile/password", data=attempt("correct-horse"))
    assert (refused.status, refused.headers["Retry-After"]) == (429, "1")
    assert "Слишком много неверных паролей, попробуйте через 1 с." in await refused.text()
    async with db() as session:
        user = await session.get(User, staff.users["operator"].id)
        assert user is not None
        unchanged = user.password_hash

    await asyncio.sleep(1.1)
    changed = await operator.post(
        "/profile/password", data=attempt("correct-horse"), allow_redirects=False
    )
    assert changed.status == 303
    async with db() as session:
        user = await session.get(User, staff.users["operator"].id)
        assert user is not None and user.password_hash != unchanged
    # a success forgives: a mistyped repeat afterwards is just a mistake, not a guess
    mistakes = {**attempt("brand-new-1"), "repeat_password": "other"}
    statuses = [(await operator.post("/profile/password", data=mistakes)).status for _ in range(7)]
    assert statuses == [400] * 7
