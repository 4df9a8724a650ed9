"""The websocket hub through a real aiohttp server: auth, origin, catch-up, slow clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.auth import issue_api_token
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.test_web import unconnected_telephony
from web import hub as hub_module
from web.app import create_app
from web.hub import Hub
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


class Staff:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.token = ""


@pytest.fixture
async def staff(db: async_sessionmaker[AsyncSession]) -> Staff:
    result = Staff()
    async with db() as session:
        for login in ("anna", "boris"):
            user = await add_user(
                session, login=login, full_name=login, role="operator", password="correct-horse"
            )
            result.ids[login] = user.id
        result.token = await issue_api_token(session, user, "tests")
        await session.commit()
    return result


@pytest.fixture
async def app_and_hub(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> AsyncIterator[tuple[TestClient[Any, Any], Hub]]:
    hub = Hub()
    client = await aiohttp_client(
        create_app(WebServices(load_settings({}), db, unconnected_telephony()), hub)
    )
    yield client, hub


async def signed_in(client: TestClient[Any, Any], login: str) -> aiohttp.ClientSession:
    jar = aiohttp.CookieJar(unsafe=True)
    session = aiohttp.ClientSession(cookie_jar=jar)
    response = await session.post(
        client.make_url("/login"), data={"login": login, "password": "correct-horse"}
    )
    assert response.status == 200  # followed the redirect to the console
    return session


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 5)
    return message


async def test_each_user_gets_only_their_messages_and_catches_up_after_reconnect(
    app_and_hub: tuple[TestClient[Any, Any], Hub], staff: Staff
) -> None:
    client, hub = app_and_hub
    anna = await signed_in(client, "anna")
    try:
        ws = await anna.ws_connect(client.make_url("/ws"))
        hello = await receive(ws)
        assert hello["type"] == "hello" and hello["data"]["hub"] == hub.hub_id
        hub.publish([staff.ids["boris"]], "call.ringing", {"linkedid": "b"})
        hub.publish([staff.ids["anna"]], "call.ringing", {"linkedid": "a1"})
        first = await receive(ws)
        assert (first["type"], first["data"]["linkedid"]) == ("call.ringing", "a1")
        assert {"type", "seq", "ts", "data"} <= set(first)
        await ws.close()

        # missed while away: delivered once, in order, after a reconnect
        hub.publish([staff.ids["anna"]], "call.answered", {"linkedid": "a1"})
        hub.publish([staff.ids["anna"]], "call.ended", {"linkedid": "a1"})
        url = client.make_url(f"/ws?hub={hub.hub_id}&last_seq={first['seq']}")
        ws = await anna.ws_connect(url)
        assert (await receive(ws))["type"] == "hello"
        assert [(await receive(ws))["type"] for _ in range(2)] == ["call.answered", "call.ended"]
        hub.publish([staff.ids["anna"]], "agent.state", {"state": "ready"})
        assert (await receive(ws))["type"] == "agent.state"
        await ws.close()

        # too far behind (or another server's numbers): an explicit resync
        for stale in (f"hub=other&last_seq={first['seq']}", f"hub={hub.hub_id}&last_seq=0"):
            for i in range(hub_module.HISTORY_PER_USER + 1):
                hub.publish([staff.ids["anna"]], "call.ringing", {"linkedid": f"x{i}"})
            ws = await anna.ws_connect(client.make_url(f"/ws?{stale}"))
            assert [(await receive(ws))["type"] for _ in range(2)] == ["hello", "resync"]
            await ws.close()
    finally:
        await anna.close()


async def test_handshakes_without_a_user_or_from_another_site_are_refused(
    app_and_hub: tuple[TestClient[Any, Any], Hub], staff: Staff
) -> None:
    client, _ = app_and_hub
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(client.make_url("/ws"))
        assert refused.value.status == 401
    anna = await signed_in(client, "anna")
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
            await anna.ws_connect(client.make_url("/ws"), origin="https://evil.example")
        assert foreign.value.status == 403
        ws = await anna.ws_connect(
            client.make_url("/ws"), origin=str(client.make_url("")).rstrip("/")
        )
        assert (await receive(ws))["type"] == "hello"
        await ws.close()
    finally:
        await anna.close()
    async with aiohttp.ClientSession() as script:
        ws = await script.ws_connect(
            client.make_url("/ws"), headers={"Authorization": f"Bearer {staff.token}"}
        )
        assert (await receive(ws))["type"] == "hello"
        await ws.close()


async def test_a_client_that_stops_reading_is_cut_off_and_others_keep_receiving(
    app_and_hub: tuple[TestClient[Any, Any], Hub], staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, hub = app_and_hub
    monkeypatch.setattr(hub_module, "OUTBOX_SIZE", 5)
    anna = await signed_in(client, "anna")
    boris = await signed_in(client, "boris")
    try:
        stalled = await anna.ws_connect(client.make_url("/ws"))
        listening = await boris.ws_connect(client.make_url("/ws"))
        await receive(listening)
        await asyncio.sleep(0.1)
        big = {"blob": "x" * 200_000}
        for _ in range(200):  # anna's browser never reads: her outbox fills up
            hub.publish([staff.ids["anna"]], "call.ringing", big)
        hub.publish([staff.ids["boris"]], "call.ringing", {"linkedid": "b"})
        message = await receive(listening)
        assert message["data"] == {"linkedid": "b"}
        assert hub.dropped_slow_clients == 1
        await stalled.close()
        await listening.close()
    finally:
        await anna.close()
        await boris.close()


async def test_a_state_picture_reaches_the_leaders_uncompressed_and_every_new_reader(
    app_and_hub: tuple[TestClient[Any, Any], Hub],
    staff: Staff,
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, hub = app_and_hub
    async with db() as session:
        await add_user(
            session, login="vera", full_name="vera", role="supervisor", password="correct-horse"
        )
        await session.commit()
    vera = await signed_in(client, "vera")
    anna = await signed_in(client, "anna")
    try:
        # browsers ask for permessage-deflate; the hub declines (one encoding for everyone)
        board = await vera.ws_connect(client.make_url("/ws"), compress=15)
        assert board.compress == 0
        desk = await anna.ws_connect(client.make_url("/ws"))
        assert (await receive(board))["type"] == (await receive(desk))["type"] == "hello"
        hub.publish_state(["supervisor"], "wallboard", {"calls": [{"caller": "Пётр"}]})
        hub.publish([staff.ids["anna"]], "agent.state", {"state": "ready"})
        picture = await receive(board)
        assert (picture["type"], picture["seq"]) == ("wallboard", 0)
        assert picture["data"] == {"calls": [{"caller": "Пётр"}]}
        assert (await receive(desk))["type"] == "agent.state"  # an operator gets no board
        late = await vera.ws_connect(client.make_url("/ws"))
        assert [(await receive(late))["type"] for _ in range(2)] == ["hello", "wallboard"]
        for ws in (board, desk, late):
            await ws.close()
    finally:
        await vera.close()
        await anna.close()
