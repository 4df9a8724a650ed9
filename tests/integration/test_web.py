"""The web console through a real aiohttp server and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.telephony import AmiTelephony
from callcenter import database
from callcenter.settings import Secret, load_settings
from callcenter.users import add_user
from web.app import create_app
from web.security import CSP
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def unconnected_telephony() -> AmiTelephony:
    # a real link that was never started: its state stays "connecting"
    return AmiTelephony(
        AmiLink("127.0.0.1", 1, "nobody", Secret("nothing")), originate_context="operators"
    )


@pytest.fixture
async def client(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> AsyncIterator[TestClient[Any, Any]]:
    async with db() as session:
        await add_user(
            session,
            login="ivanova",
            full_name="Мария Иванова",
            role="operator",
            password="correct-horse",
            extension="101",
            device="PJSIP/op101",
        )
        await add_user(
            session,
            login="smith",
            full_name="John Smith",
            role="manager",
            password="correct-horse",
            language="en",
        )
        await session.commit()
    services = WebServices(load_settings({}), db, unconnected_telephony())
    yield await aiohttp_client(create_app(services))


async def sign_in(client: TestClient[Any, Any], login: str, password: str) -> Any:
    return await client.post(
        "/login", data={"login": login, "password": password}, allow_redirects=False
    )


async def test_healthz_reports_database_and_ami(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["database"] == {"ok": True}
    assert body["ami"] == {"state": "connecting", "connected": False}
    assert body["status"] == "degraded"


async def test_healthz_answers_503_without_database(
    pg_server_url: str, aiohttp_client: ClientFactory
) -> None:
    engine = database.make_engine(database.with_database(pg_server_url, "no_such_database"))
    services = WebServices(
        load_settings({}), database.make_sessionmaker(engine), unconnected_telephony()
    )
    client = await aiohttp_client(create_app(services))
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["database"]["ok"] is False
    await engine.dispose()


async def test_anonymous_visitor_is_sent_to_login(client: TestClient[Any, Any]) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_healthz_needs_no_session_even_with_a_stale_cookie(
    client: TestClient[Any, Any],
) -> None:
    client.session.cookie_jar.update_cookies({"cc_session": "stale-token"})
    response = await client.get("/healthz")
    assert response.status == 200


async def test_login_page_is_russian_by_default_and_english_on_request(
    client: TestClient[Any, Any],
) -> None:
    assert "Войти" in await (await client.get("/login")).text()
    english = await client.get("/login?lang=en")
    assert "Sign in" in await english.text()
    assert "Войти" not in await english.text()


async def test_wrong_password_is_refused_in_russian(client: TestClient[Any, Any]) -> None:
    response = await sign_in(client, "ivanova", "wrong-password")
    assert response.status == 401
    assert "Неверный логин или пароль." in await response.text()
    assert "cc_session" not in response.cookies
    unknown = await sign_in(client, "nobody", "wrong-password")
    assert unknown.status == 401


async def test_operator_signs_in_and_sees_the_console(client: TestClient[Any, Any]) -> None:
    response = await sign_in(client, "IVANOVA", "correct-horse")  # logins ignore case
    assert response.status == 303
    cookie = response.cookies["cc_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    page = await client.get("/")
    text = await page.text()
    assert page.status == 200
    assert "Здравствуйте, Мария Иванова" in text
    assert "оператор" in text and "101" in text
    assert "Телефония недоступна" in text  # the AMI link is not up in this test


async def test_user_language_is_english_for_english_users(client: TestClient[Any, Any]) -> None:
    await sign_in(client, "smith", "correct-horse")
    text = await (await client.get("/")).text()
    assert "Hello, John Smith" in text and "manager" in text


async def test_names_are_escaped(
    client: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        await add_user(
            session,
            login="xss",
            full_name="<script>alert(1)</script>",
            role="operator",
            password="correct-horse",
        )
        await session.commit()
    await sign_in(client, "xss", "correct-horse")
    text = await (await client.get("/")).text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text


async def test_sign_out_ends_the_session(client: TestClient[Any, Any]) -> None:
    response = await sign_in(client, "ivanova", "correct-horse")
    token = response.cookies["cc_session"].value
    await client.post("/logout")
    client.session.cookie_jar.update_cookies({"cc_session": token})
    again = await client.get("/", allow_redirects=False)
    assert again.status == 303


async def test_cross_origin_post_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/login",
        data={"login": "ivanova", "password": "correct-horse"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert response.headers["Content-Security-Policy"] == CSP


async def test_pages_carry_a_strict_content_security_policy(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/login")
    assert response.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/dial", {"number": "8 916 000-00-01"}), ("/api/v1/agent/state", {"state": "ready"})],
)
async def test_telephony_actions_refuse_clearly(
    client: TestClient[Any, Any], path: str, body: dict[str, str]
) -> None:
    assert (await client.post(path, json=body)).status == 401  # not signed in
    await sign_in(client, "smith", "correct-horse")  # a manager without a phone
    no_phone = await client.post(path, json=body)
    assert no_phone.status == 409
    assert "no phone" in (await no_phone.json())["error"]
    await client.post("/logout")
    await sign_in(client, "ivanova", "correct-horse")  # the AMI link is not up here
    down = await client.post(path, json=body)
    assert down.status == 503
    assert (await down.json())["error"] == "telephony unavailable: the AMI link is down"


async def test_dial_checks_the_number_first(client: TestClient[Any, Any]) -> None:
    await sign_in(client, "ivanova", "correct-horse")
    response = await client.post("/api/v1/dial", json={"number": "call me"})
    assert response.status == 400
    assert (await response.json())["fields"] == {"number": "not a phone number"}
