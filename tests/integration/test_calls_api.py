"""The call journal and campaigns through /api/v1, with each role's view of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Call, Campaign, Lead
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import make_world
from tests.integration.test_web import ClientFactory, sign_in, unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def calls(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    world = await make_world(db)
    op101, op102 = world.operators["101"].id, world.operators["102"].id
    async with db() as session:
        await add_user(
            session,
            login="sv",
            full_name="Супервайзер",
            role="supervisor",
            password="correct-horse",
        )
        rows = [
            Call(
                linkedid="1.1",
                direction="inbound",
                caller_number="84951234567",
                caller_e164="+74951234567",
                contact_id=world.contact_id,
                answered_by_id=op101,
                started_at=T0,
                result="answered",
                recording_path="2026/11/20/1.1.wav",
            ),
            Call(
                linkedid="1.2",
                direction="inbound",
                caller_number="89161112233",
                caller_e164="+79161112233",
                answered_by_id=op102,
                started_at=T0 + timedelta(hours=1),
                result="answered",
            ),
            Call(
                linkedid="1.3",
                direction="inbound",
                caller_e164="+74951234567",
                started_at=T0 + timedelta(hours=2),
                result="abandoned",
            ),
        ]
        session.add_all(rows)
        campaign = Campaign(name="Холодные звонки")
        session.add(campaign)
        await session.flush()
        session.add_all(
            Lead(campaign_id=campaign.id, phone_raw=f"8916000000{i}", phone_e164=f"+7916000000{i}")
            for i in range(3)
        )
        await session.commit()
        return {
            "own": rows[0].id,
            "foreign": rows[1].id,
            "missed": rows[2].id,
            "campaign": campaign.id,
        }


@pytest.fixture
async def client(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, calls: dict[str, int]
) -> TestClient[Any, Any]:
    return await aiohttp_client(
        create_app(WebServices(load_settings({}), db, unconnected_telephony()))
    )


async def linkedids(client: TestClient[Any, Any], query: str = "") -> list[str]:
    response = await client.get("/api/v1/calls" + query)
    assert response.status == 200
    return [call["linkedid"] for call in (await response.json())["calls"]]


async def test_an_operator_reads_only_the_calls_they_answered(
    client: TestClient[Any, Any], calls: dict[str, int]
) -> None:
    await sign_in(client, "op101", "correct-horse")
    assert await linkedids(client) == ["1.1"]
    own = await (await client.get(f"/api/v1/calls/{calls['own']}")).json()
    assert own["recording_url"] == f"/calls/{calls['own']}/recording"
    assert own["contact"]["name"] == "Петров Иван"
    assert (await client.get(f"/api/v1/calls/{calls['foreign']}")).status == 404
    assert (await client.get("/api/v1/campaigns")).status == 403


async def test_a_supervisor_reads_every_call_and_filters_them(
    client: TestClient[Any, Any], calls: dict[str, int]
) -> None:
    await sign_in(client, "sv", "correct-horse")
    assert await linkedids(client) == ["1.3", "1.2", "1.1"]
    assert await linkedids(client, "?number=8 (495) 123-45-67") == ["1.3", "1.1"]
    assert await linkedids(client, "?result=abandoned") == ["1.3"]
    since = (T0 + timedelta(minutes=30)).isoformat().replace("+", "%2B")
    assert await linkedids(client, f"?since={since}&limit=1") == ["1.3"]
    assert await linkedids(client, f"?before_id={calls['missed']}") == ["1.2", "1.1"]


async def test_a_wrong_filter_names_each_field(client: TestClient[Any, Any]) -> None:
    await sign_in(client, "sv", "correct-horse")
    response = await client.get("/api/v1/calls?since=yesterday&limit=100000&result=great")
    assert response.status == 400
    assert set((await response.json())["fields"]) == {"since", "limit", "result"}


async def test_campaigns_count_their_leads(
    client: TestClient[Any, Any], calls: dict[str, int]
) -> None:
    await sign_in(client, "sv", "correct-horse")
    listed = (await (await client.get("/api/v1/campaigns")).json())["campaigns"]
    assert [(c["name"], c["leads"], c["leads_total"]) for c in listed] == [
        ("Холодные звонки", {"new": 3}, 3)
    ]
    assert (await client.get(f"/api/v1/campaigns/{calls['campaign'] + 1}")).status == 404
