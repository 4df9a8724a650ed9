"""An operator's current calls: the inbound pipeline on the replay PBX, the hub, the API.

Every (re)connecting console gets what rings or talks on its own phone, after the
catch-up of the messages it missed and never instead of them; the API gives the same
to the signed-in user only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.replay_pbx import ReplayPbx
from callcenter.app.inbound import InboundPipeline
from callcenter.settings import Secret, load_settings
from tests.integration.cti_helpers import World, make_world, until
from tests.integration.test_hub import ClientFactory, receive, signed_in
from tests.integration.test_web import unconnected_telephony
from tests.replay_calls import ANSWERED_AFTER, LINKEDIDS, call_frames
from web.app import create_app
from web.hub import Hub
from web.state import WebServices

pytestmark = pytest.mark.db

OP101, OP102 = "PJSIP/op101", "PJSIP/op102"


class Center:
    def __init__(
        self, client: TestClient[Any, Any], hub: Hub, inbound: InboundPipeline, link: AmiLink
    ) -> None:
        self.client, self.hub, self.inbound, self.link = client, hub, inbound, link

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def listen(self) -> None:
        """The AMI link logs in (and resyncs); until then nothing is known of the PBX."""
        await self.link.start()


@pytest.fixture
async def pbx() -> AsyncIterator[ReplayPbx]:
    async with ReplayPbx() as replay:
        yield replay


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    return await make_world(db)  # op101 Анна, op102 Дмитрий, the caller a known client


@pytest.fixture
async def center(
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    pbx: ReplayPbx,
    world: World,
) -> AsyncIterator[Center]:
    """As ``serve`` wires them: the hub asks the inbound pipeline for the current calls."""
    hub = Hub()
    inbound = InboundPipeline(db, hub, region="RU")
    hub.calls_on = inbound.current_calls
    inbound.on_resynced = hub.refresh_calls
    client = await aiohttp_client(
        create_app(WebServices(load_settings({}), db, unconnected_telephony()), hub)
    )
    link = AmiLink(pbx.host, pbx.port, "callcenter", Secret("x"), on_resync=inbound.resync)
    listener = asyncio.create_task(inbound.run(link))
    try:
        yield Center(client, hub, inbound, link)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await link.stop()


async def next_of(ws: aiohttp.ClientWebSocketResponse, type_: str) -> dict[str, Any]:
    while True:
        message = await receive(ws)
        if message["type"] == type_:
            return message


async def test_each_operator_gets_the_calls_on_their_own_phone_and_nobody_elses(
    pbx: ReplayPbx, center: Center
) -> None:
    # rang before the pipeline listened: it learns them from the link's resync
    await pbx.play(call_frames(0, until=ANSWERED_AFTER - 0.5, without=OP102))
    await pbx.play(call_frames(2, until=ANSWERED_AFTER - 0.5, without=OP101))
    await center.listen()
    await until(lambda: center.inbound.live_known, 10, "resync")
    await until(lambda: len(center.inbound.device_calls.on(OP102)) == 1, 5, "adopted calls")

    anna = await signed_in(center.client, "op101")
    dmitry = await signed_in(center.client, "op102")
    anonymous = aiohttp.ClientSession()
    try:
        ws = await anna.ws_connect(center.url("/ws"))
        assert (await receive(ws))["type"] == "hello"
        current = await receive(ws)
        assert (current["type"], current["seq"], current["data"]["known"]) == (
            "calls.current",
            0,
            True,
        )
        (call,) = current["data"]["calls"]
        assert (call["linkedid"], call["state"], call["device"]) == (LINKEDIDS[0], "ringing", OP101)
        assert call["caller_number"] == "84951234567" and call["queue"] == "support"
        await ws.close()

        async with dmitry.get(center.url("/api/v1/me/live-calls")) as response:
            assert response.status == 200
            body = await response.json()
        assert [(c["linkedid"], c["state"]) for c in body["calls"]] == [(LINKEDIDS[2], "ringing")]
        assert body["calls"][0]["caller_name"] == "Maria"
        # once the lookup is done the pop carries the client card, as the live one did
        await until(
            lambda: all(
                c.get("lookup") == "known" for c in center.inbound.current_calls(OP101)["calls"]
            ),
            5,
            "lookup",
        )
        async with anna.get(center.url("/api/v1/me/live-calls")) as response:
            (popped,) = (await response.json())["calls"]
        assert popped["client"]["name"] == "Петров Иван"

        async with anonymous.get(center.url("/api/v1/me/live-calls")) as response:
            assert response.status == 401
    finally:
        for session in (anna, dmitry, anonymous):
            await session.close()


async def test_a_reconnect_gets_each_missed_message_once_and_then_the_calls_of_now(
    pbx: ReplayPbx, center: Center, world: World
) -> None:
    await center.listen()
    await until(lambda: center.inbound.live_known and pbx.listeners == 1, 10, "the link")
    anna = await signed_in(center.client, "op101")
    try:
        ws = await anna.ws_connect(center.url("/ws"))
        hello = await receive(ws)
        assert (await receive(ws))["data"] == {"known": True, "calls": []}
        await pbx.play(call_frames(1, until=ANSWERED_AFTER - 0.5))  # rings both phones
        ringing = await next_of(ws, "call.ringing")
        assert ringing["data"]["linkedid"] == LINKEDIDS[1]
        await ws.close()

        # away while op101 answers: the answer is caught up once, then the call is a talk
        await pbx.play(call_frames(1, since=ANSWERED_AFTER - 0.5, until=ANSWERED_AFTER + 1))
        await until(
            lambda: [h.state for h in center.inbound.device_calls.on(OP101)] == ["talking"],
            5,
            "the answer",
        )
        await asyncio.sleep(0.2)  # the pop pipeline publishes the answer
        hub_id = hello["data"]["hub"]
        ws = await anna.ws_connect(center.url(f"/ws?hub={hub_id}&last_seq={ringing['seq']}"))
        messages = [await receive(ws)]
        while messages[-1]["type"] != "calls.current":
            messages.append(await receive(ws))
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "hello" and "call.ringing" not in kinds  # seen before: not again
        (answer,) = [m for m in messages if m["type"] == "call.answered"]
        assert answer["data"]["answered_by"] == world.operators["101"].id
        assert all(m["seq"] > ringing["seq"] for m in messages[1:-1])
        (call,) = messages[-1]["data"]["calls"]
        assert (call["linkedid"], call["state"]) == (LINKEDIDS[1], "talking")
        await ws.close()

        # another server's numbers (it restarted): no catch-up, a resync and the calls of now
        ws = await anna.ws_connect(center.url(f"/ws?hub=gone&last_seq={ringing['seq']}"))
        kinds = [(await receive(ws))["type"] for _ in range(3)]
        assert kinds == ["hello", "resync", "calls.current"]
        await ws.close()
    finally:
        await anna.close()


async def test_a_console_connected_before_the_link_resyncs_gets_its_calls_once_they_are_known(
    pbx: ReplayPbx, center: Center
) -> None:
    # the server has just started: browsers reconnect before the AMI link is back
    await pbx.play(call_frames(0, until=ANSWERED_AFTER - 0.5, without=OP102))
    anna = await signed_in(center.client, "op101")
    try:
        ws = await anna.ws_connect(center.url("/ws?hub=gone&last_seq=7"))
        assert [(await receive(ws))["type"] for _ in range(2)] == ["hello", "resync"]
        early = await receive(ws)
        # not known yet: the console must not take down the pops it shows
        assert (early["type"], early["data"]) == ("calls.current", {"known": False, "calls": []})
        await center.listen()
        known = await next_of(ws, "calls.current")
        assert known["data"]["known"] is True
        assert [(c["linkedid"], c["state"]) for c in known["data"]["calls"]] == [
            (LINKEDIDS[0], "ringing")
        ]
        await ws.close()
    finally:
        await anna.close()
