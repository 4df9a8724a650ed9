"""The session cookie's flags, and HTTPS behind a reverse proxy that terminates TLS:
Secure and HSTS only when the browser really used HTTPS, and X-Forwarded-* believed only
from the proxy named in CALLCENTER_TRUSTED_PROXIES."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import WebSession
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.staff_helpers import ClientFactory
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.security import HSTS
from web.state import WebServices

pytestmark = pytest.mark.db

PASSWORD = "correct-horse"
HTTPS = {"X-Forwarded-Proto": "https"}


async def client_with(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, environ: dict[str, str]
) -> TestClient[Any, Any]:
    async with db() as session:
        await add_user(
            session, login="ivanova", full_name="Мария Иванова", role="operator", password=PASSWORD
        )
        await session.commit()
    services = WebServices(load_settings(environ), db, unconnected_telephony())
    return await aiohttp_client(create_app(services))


def cookie_attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    """The cookie's name and its attributes (lower-case names; flags map to "")."""
    first, *rest = [part.strip() for part in set_cookie.split(";")]
    attributes = {}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return first.partition("=")[0], attributes


async def session_cookie(
    client: TestClient[Any, Any], headers: dict[str, str]
) -> tuple[dict[str, str], Any]:
    response = await client.post(
        "/login",
        data={"login": "ivanova", "password": PASSWORD},
        headers=headers,
        allow_redirects=False,
    )
    assert response.status == 303
    cookies = dict(cookie_attributes(c) for c in response.headers.getall("Set-Cookie"))
    return cookies["cc_session"], response


async def test_over_plain_http_the_cookie_is_httponly_lax_path_root_and_not_secure(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    client = await client_with(db, aiohttp_client, {})
    cookie, response = await session_cookie(client, {})
    assert "httponly" in cookie  # no script reads it
    assert cookie["samesite"] in ("Lax", "Strict")  # another site's form post carries none
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(12 * 3600)
    assert "secure" not in cookie  # a plain-HTTP install must still be able to sign in
    assert "Strict-Transport-Security" not in response.headers
    # from an unconfigured peer the header is just a header: it changes nothing
    cookie, response = await session_cookie(client, HTTPS)
    assert "secure" not in cookie
    assert "Strict-Transport-Security" not in response.headers


async def test_behind_the_trusted_proxy_https_gives_secure_and_hsts(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    client = await client_with(db, aiohttp_client, {"CALLCENTER_TRUSTED_PROXIES": "127.0.0.1"})
    cookie, response = await session_cookie(
        client, {**HTTPS, "X-Forwarded-For": "203.0.113.5, 127.0.0.1"}
    )
    assert "secure" in cookie and "httponly" in cookie and cookie["samesite"] == "Lax"
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert int(HSTS.removeprefix("max-age=")) >= 180 * 24 * 3600
    # every answer over HTTPS carries HSTS, refusals and redirects too
    page = await client.get("/", headers=HTTPS, allow_redirects=False)
    assert page.status == 303 and page.headers["Strict-Transport-Security"] == HSTS
    assert (await client.get("/healthz", headers=HTTPS)).headers["Strict-Transport-Security"]
    # the session remembers the browser's address, not the proxy's
    async with db() as session:
        ips = [str(ip) for ip in await session.scalars(select(WebSession.ip))]
    assert ips == ["203.0.113.5"]

    # the proxy says the browser used plain HTTP: no Secure (it would not come back)
    cookie, response = await session_cookie(client, {"X-Forwarded-Proto": "http"})
    assert "secure" not in cookie
    assert "Strict-Transport-Security" not in response.headers


async def test_a_proxy_setting_for_another_address_ignores_the_headers(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    """The test client connects from 127.0.0.1, which is not the configured proxy."""
    client = await client_with(db, aiohttp_client, {"CALLCENTER_TRUSTED_PROXIES": "10.0.0.0/8"})
    cookie, response = await session_cookie(client, {**HTTPS, "X-Forwarded-For": "203.0.113.5"})
    assert "secure" not in cookie
    assert "Strict-Transport-Security" not in response.headers
    async with db() as session:
        ips = [str(ip) for ip in await session.scalars(select(WebSession.ip))]
    assert ips == ["127.0.0.1"]


async def test_sign_out_removes_the_cookie_on_the_same_path(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    client = await client_with(db, aiohttp_client, {})
    await session_cookie(client, {})
    response = await client.post("/logout", allow_redirects=False)
    cookies = dict(cookie_attributes(c) for c in response.headers.getall("Set-Cookie"))
    assert cookies["cc_session"]["max-age"] == "0"
    assert cookies["cc_session"]["path"] == "/"


async def test_a_websocket_through_the_proxy_is_accepted_from_the_https_page(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    client = await client_with(db, aiohttp_client, {"CALLCENTER_TRUSTED_PROXIES": "127.0.0.1"})
    _cookie, response = await session_cookie(client, HTTPS)
    # the jar keeps a Secure cookie for https only; the browser sends it to the proxy
    token = response.cookies["cc_session"].value
    origin = f"https://{client.host}:{client.port}"  # the page was loaded over HTTPS
    headers = {**HTTPS, "Origin": origin, "Cookie": f"cc_session={token}"}
    ws = await client.ws_connect("/ws", headers=headers)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.close()
