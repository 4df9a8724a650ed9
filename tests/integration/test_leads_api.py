"""``POST /api/v1/leads`` and ``/admin/channels`` through a real aiohttp server."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import web_form_sites
from callcenter.models import AdChannel, AuditEntry, Contact, Interaction, Task, TrackingNumber
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.test_web import sign_in, unconnected_telephony
from web.app import create_app
from web.leads_api import LEAD_LIMITS, PER_IP_PER_MINUTE, post_lead
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
FOREIGN = "http://okna.example.ru"


@dataclass
class Setup:
    client: TestClient[Any, Any]
    token: str
    manager_id: int


@pytest.fixture
async def setup(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> AsyncIterator[Setup]:
    async with db() as session:
        manager = await add_user(
            session, login="volkov", full_name="Игорь Волков", role="manager", password="x" * 12
        )
        await add_user(session, login="admin", full_name="Админ", role="admin", password="x" * 12)
        await add_user(session, login="op101", full_name="Анна", role="operator", password="x" * 12)
        _, token = await web_form_sites.add_site(session, "okna.example.ru", None)
        await session.commit()
    services = WebServices(load_settings({}), db, unconnected_telephony())
    yield Setup(await aiohttp_client(create_app(services)), token, manager.id)


async def stored(db: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with db() as session:
        counts = []
        for model in (Contact, Task, Interaction):
            counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
        return counts[0], counts[1], counts[2]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_json_lead_with_the_site_token_makes_a_task_for_the_manager(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    response = await setup.client.post(
        "/api/v1/leads",
        json={"name": "Иван", "phone": "+7 916 123-45-67", "utm_source": "yandex"},
        headers={**bearer(setup.token), "Origin": FOREIGN},
    )
    assert response.status == 201, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = await response.json()
    assert set(body) == {"contact_id", "task_id", "new_contact"} and body["new_contact"] is True
    async with db() as session:
        task = await session.get(Task, body["task_id"])
    assert task is not None and task.assignee_id == setup.manager_id


async def test_a_bad_or_inactive_token_is_refused(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    lead = {"phone": "+79161234567"}
    for headers in (bearer("not-a-token"), {}):
        response = await setup.client.post("/api/v1/leads", json=lead, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"] == "unknown or inactive site token"
    async with db() as session:
        site = await web_form_sites.site_for_token(session, setup.token)
        assert site is not None
        await web_form_sites.deactivate_site(session, site.id)
        await session.commit()
    response = await setup.client.post("/api/v1/leads", json=lead, headers=bearer(setup.token))
    assert response.status == 401
    assert await stored(db) == (0, 0, 0)


async def test_bad_fields_get_a_400_naming_each_and_nothing_is_stored(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    response = await setup.client.post(
        "/api/v1/leads",
        json={"name": "Иван", "phone": "позвоните", "email": "ivan@", "page": "ftp://x"},
        headers=bearer(setup.token),
    )
    assert response.status == 400
    assert await response.json() == {
        "error": "invalid lead",
        "fields": {
            "phone": "not a phone number",
            "email": "not an e-mail address",
            "page": "expected an http(s) address",
        },
    }
    for body, status in (
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"phone": "' + b"1" * 17_000 + b'"}', 413),
    ):
        response = await setup.client.post(
            "/api/v1/leads",
            data=body,
            headers={**bearer(setup.token), "Content-Type": "application/json"},
        )
        assert response.status == status, body[:20]
    response = await setup.client.post(
        "/api/v1/leads",
        data=b"phone=1",
        headers={**bearer(setup.token), "Content-Type": "text/csv"},
    )
    assert response.status == 415
    assert await stored(db) == (0, 0, 0)


async def test_a_plain_form_from_another_site_is_accepted_and_thanked(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    form = {"token": setup.token, "name": "Анна", "phone": "89165554433", "comment": "замер"}
    response = await setup.client.post(
        "/api/v1/leads",
        data=form,
        headers={"Origin": FOREIGN, "Referer": FOREIGN + "/contacts?utm_source=vk"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["new_contact"] is True
    # a browser that posted the form reads a page, in Russian by default
    multipart = FormData({**form, "email": "anna@example.ru"})
    multipart.add_field("photo", b"\x89PNG", filename="a.png", content_type="image/png")
    response = await setup.client.post(
        "/api/v1/leads",
        data=multipart,
        headers={"Origin": FOREIGN, "Accept": "text/html,application/xhtml+xml"},
    )
    assert response.status == 201
    page = await response.text()
    assert 'data-sent="yes"' in page and "Спасибо!" in page
    response = await setup.client.post(
        "/api/v1/leads",
        data={"token": setup.token, "name": "Анна"},
        headers={"Origin": FOREIGN, "Accept": "text/html"},
    )
    assert response.status == 400
    assert "укажите телефон или e-mail" in await response.text()
    async with db() as session:
        entries = list(
            await session.scalars(select(Interaction).where(Interaction.kind == "web_form"))
        )
    assert [e.payload["page"] for e in entries] == [FOREIGN + "/contacts?utm_source=vk", None]
    assert [e.payload["message"] for e in entries] == ["замер", "замер"]
    assert len({e.contact_id for e in entries}) == 1  # the same phone: the same client


async def test_other_routes_still_refuse_foreign_origins(setup: Setup) -> None:
    assert getattr(post_lead, "public_by_token", False) is True
    assert not hasattr(post_lead, "allowed_roles")
    await sign_in(setup.client, "admin", "x" * 12)
    response = await setup.client.post(
        "/admin/channels", data={"name": "Чужой"}, headers={"Origin": FOREIGN}
    )
    assert response.status == 403


async def test_cors_preflight_lets_any_site_post(setup: Setup) -> None:
    response = await setup.client.options(
        "/api/v1/leads",
        headers={
            "Origin": FOREIGN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


async def test_one_address_is_rate_limited(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    statuses = []
    for n in range(PER_IP_PER_MINUTE + 1):
        response = await setup.client.post(
            "/api/v1/leads",
            json={"phone": f"+791600000{n:02}"},
            headers=bearer(setup.token),
        )
        statuses.append(response.status)
    assert statuses == [201] * PER_IP_PER_MINUTE + [429]
    assert 1 <= int(response.headers["Retry-After"]) <= 2
    assert (await response.json())["error"].startswith("too many leads")
    assert (await stored(db))[0] == PER_IP_PER_MINUTE


async def test_one_site_is_rate_limited_whatever_the_visitors_addresses(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    # a botnet posting one site's form: every address fresh, the site's own limit holds
    app = setup.client.app
    assert app is not None
    limits = app[LEAD_LIMITS]
    limits.per_ip.capacity = 1000.0  # the test client has one address: lift its limit
    limits.per_site.capacity, limits.per_site.rate = 5.0, 5 / 60
    statuses = []
    for n in range(7):
        response = await setup.client.post(
            "/api/v1/leads", json={"phone": f"+791600001{n:02}"}, headers=bearer(setup.token)
        )
        statuses.append(response.status)
    assert statuses == [201] * 5 + [429, 429]
    assert (await stored(db))[0] == 5


async def test_admin_manages_channels_numbers_and_site_tokens(
    setup: Setup, db: async_sessionmaker[AsyncSession]
) -> None:
    client = setup.client
    await sign_in(client, "op101", "x" * 12)
    assert (await client.get("/admin/channels", allow_redirects=False)).status == 403
    await sign_in(client, "admin", "x" * 12)
    response = await client.post(
        "/admin/channels",
        data={
            "name": "Яндекс Директ",
            "utm_source": "Yandex",
            "utm_medium": "cpc",
            "is_active": "on",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    async with db() as session:
        channel = await session.scalar(select(AdChannel))
    assert channel is not None and (channel.utm_source, channel.is_active) == ("yandex", True)
    response = await client.post("/admin/channels", data={"name": "Яндекс Директ"})
    assert response.status == 400 and "канал с таким названием уже есть" in await response.text()
    response = await client.post(
        "/admin/channels/numbers",
        data={"did": "8 (495) 111-22-33", "ad_channel_id": str(channel.id), "label": "Щиты"},
        allow_redirects=False,
    )
    assert response.status == 303
    response = await client.post(
        "/admin/channels/sites", data={"name": "dveri.example.ru", "ad_channel_id": str(channel.id)}
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    match = re.search(r'data-testid="site-token">([A-Za-z0-9_-]+)<', page)
    assert match is not None
    token = match.group(1)
    # the paste-ready form carries it, shown as text (escaped), never as live markup
    snippet = page.split('data-testid="form-snippet">')[1].split("</textarea>")[0]
    assert "<" not in snippet and "<script>" in html.unescape(snippet)
    assert f'name="token" value="{token}"' in html.unescape(snippet)
    listing = await (await client.get("/admin/channels")).text()
    assert token not in listing and "+74951112233" in listing and "dveri.example.ru" in listing
    lead = await client.post("/api/v1/leads", json={"phone": "+79161112233"}, headers=bearer(token))
    assert lead.status == 201
    async with db() as session:
        contact = await session.get(Contact, (await lead.json())["contact_id"])
        site = await web_form_sites.site_for_token(session, token)
        number = await session.scalar(select(TrackingNumber))
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert contact is not None and contact.ad_channel_id == channel.id
    assert site is not None and number is not None
    response = await client.post(f"/admin/channels/sites/{site.id}/rotate")
    assert response.status == 200
    lead = await client.post("/api/v1/leads", json={"phone": "+79161112233"}, headers=bearer(token))
    assert lead.status == 401  # the old token stopped working
    for path in (
        f"/admin/channels/numbers/{number.id}/delete",
        f"/admin/channels/sites/{site.id}/deactivate",
        f"/admin/channels/{channel.id}/deactivate",
    ):
        assert (await client.post(path, allow_redirects=False)).status == 303
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(TrackingNumber)) == 0
        assert (await session.get(AdChannel, channel.id)).is_active is False  # type: ignore[union-attr]
    assert actions == [
        "ad_channel.save",
        "tracking_number.add",
        "web_form_site.create",
    ]
