"""Who may open ``/ws``: refused before the upgrade (an HTTP 401/403, never a 101) without a
live session of an active user or from another site's page (cross-site websocket
hijacking: the browser would send the cookie along). tests/integration/test_role_matrix.py
covers a made-up token and an expired session the same way."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import auth
from callcenter.models import ApiToken, User, WebSession
from tests.integration.staff_helpers import (
    PASSWORD,
    ClientFactory,
    Staff,
    make_staff,
    sign_in_token,
    web_client,
)
from web.hub import Hub

pytestmark = pytest.mark.db


async def handshake(client: TestClient[Any, Any], headers: dict[str, str]) -> int:
    """The handshake's HTTP status: 101 when upgraded (and then closed again)."""
    client.session.cookie_jar.clear()
    try:
        ws = await client.ws_connect("/ws", headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello"
    await ws.close()
    return 101


@pytest.fixture
async def setting(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> tuple[TestClient[Any, Any], Staff, Hub, str]:
    staff = await make_staff(db)
    hub = Hub()
    client = await web_client(db, aiohttp_client, hub)
    return client, staff, hub, f"http://{client.host}:{client.port}"


async def test_the_right_session_from_this_origin_is_accepted(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
) -> None:
    client, staff, _hub, origin = setting
    for role in ("operator", "supervisor", "manager", "admin"):
        assert await handshake(client, {**staff.cookie(role), "Origin": origin}) == 101
    # no Origin at all: not a browser (scripts, the bench); the session still decides
    assert await handshake(client, staff.cookie("operator")) == 101


async def test_no_session_is_refused_before_the_upgrade(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
) -> None:
    client, _staff, hub, origin = setting
    assert await handshake(client, {"Origin": origin}) == 401
    assert await handshake(client, {}) == 401
    assert await handshake(client, {"Authorization": "Bearer made-up", "Origin": origin}) == 401
    assert hub._connections == {}  # nothing was registered


async def test_a_deactivated_user_is_refused_even_with_a_session_left(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    """Deactivating through the admin page ends the sessions too; switched off any other
    way (the database, a script), the session row left behind must not open the channel."""
    client, staff, _hub, origin = setting
    operator = {**staff.cookie("operator"), "Origin": origin}
    assert await handshake(client, operator) == 101
    async with db() as session:
        await session.execute(
            update(User).where(User.id == staff.users["operator"].id).values(is_active=False)
        )
        await session.commit()
    assert await handshake(client, operator) == 401
    assert await handshake(client, {**staff.cookie("supervisor"), "Origin": origin}) == 101


async def test_a_signed_out_session_is_refused(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, _hub, origin = setting
    async with db() as session:
        await auth.sign_out(session, staff.tokens["manager"])
        await session.commit()
    assert await handshake(client, {**staff.cookie("manager"), "Origin": origin}) == 401


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.example",
        "null",  # a sandboxed frame or a file: page
        "http://127.0.0.1",  # the same machine, another port: another origin
        "http://127.0.0.1:{port}.evil.example",  # this host:port as a prefix only
        "http://evil.example/{host}:{port}",
    ],
)
async def test_another_sites_page_is_refused_even_with_a_live_session(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
    foreign: str,
) -> None:
    client, staff, hub, _origin = setting
    origin = foreign.format(host=client.host, port=client.port)
    assert await handshake(client, {**staff.cookie("admin"), "Origin": origin}) == 403
    async with db() as session:
        token = await auth.issue_api_token(session, staff.users["admin"], "script")
        await session.commit()
    bearer = {"Authorization": f"Bearer {token}", "Origin": origin}
    assert await handshake(client, bearer) == 403
    assert hub._connections == {}


async def open_channel(
    client: TestClient[Any, Any], token: str, origin: str
) -> aiohttp.ClientWebSocketResponse:
    client.session.cookie_jar.clear()
    ws = await client.ws_connect("/ws", headers={"Cookie": f"cc_session={token}", "Origin": origin})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """The close code and reason, skipping whatever the hub sent before it."""
    while True:
        message = await ws.receive(timeout=10)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code, str(message.extra or "")


async def test_signing_out_closes_that_sessions_open_channels_only(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, hub, origin = setting
    elsewhere = await sign_in_token(db, "manager")
    leaving = await open_channel(client, staff.tokens["manager"], origin)
    staying = await open_channel(client, elsewhere, origin)
    client.session.cookie_jar.clear()
    response = await client.post(
        "/logout", headers={**staff.cookie("manager"), "Origin": origin}, allow_redirects=False
    )
    assert response.status == 303
    assert await closed_with(leaving) == (1008, "signed out")
    hub.publish([staff.users["manager"].id], "task.assigned", {"id": 1})
    assert (await staying.receive_json(timeout=5))["type"] == "task.assigned"
    await staying.close()


async def test_a_channel_closes_when_its_session_expires(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, _hub, origin = setting
    token = staff.tokens["operator"]
    async with db() as session:
        await session.execute(
            update(WebSession)
            .where(WebSession.user_id == staff.users["operator"].id)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=1.5))
        )
        await session.commit()
    ws = await open_channel(client, token, origin)
    started = time.monotonic()
    assert await closed_with(ws) == (1008, "session expired")
    assert 0.5 < time.monotonic() - started < 5


async def test_changing_the_password_closes_the_other_sign_ins_channels(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, hub, origin = setting
    here = staff.tokens["supervisor"]
    other = await open_channel(client, await sign_in_token(db, "supervisor"), origin)
    mine = await open_channel(client, here, origin)
    client.session.cookie_jar.clear()
    response = await client.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "new_password": "brand-new-1",
            "repeat_password": "brand-new-1",
        },
        headers={"Cookie": f"cc_session={here}", "Origin": origin},
        allow_redirects=False,
    )
    assert response.status == 303
    assert await closed_with(other) == (1008, "signed out")
    hub.publish([staff.users["supervisor"].id], "task.assigned", {"id": 2})
    assert (await mine.receive_json(timeout=5))["type"] == "task.assigned"
    await mine.close()


async def test_revoking_an_api_token_closes_its_channel(
    setting: tuple[TestClient[Any, Any], Staff, Hub, str],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, _hub, origin = setting
    async with db() as session:
        token = await auth.issue_api_token(session, staff.users["admin"], "wall screen")
        await session.commit()
        token_id = await session.scalar(select(ApiToken.id).where(ApiToken.name == "wall screen"))
    client.session.cookie_jar.clear()
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    response = await client.post(
        f"/profile/tokens/{token_id}/revoke",
        headers={**staff.cookie("admin"), "Origin": origin},
        allow_redirects=False,
    )
    assert response.status == 303
    assert await closed_with(ws) == (1008, "signed out")
