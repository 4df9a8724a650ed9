"""Segment pages, exports and the segments API over HTTP, with their role checks."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import AuditEntry, Campaign, Company, Contact, ContactPhone, Lead, Segment
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.test_import_pages import sign_in
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
Login = Callable[[str], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def login(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, tmp_path: Path
) -> Login:
    async with db() as session:
        for name, role in (("boss", "manager"), ("super", "supervisor"), ("op", "operator")):
            await add_user(session, login=name, full_name=name, role=role, password="correct-horse")
        company = Company(name='=HYPERLINK("http://evil.example","x")')
        session.add(company)
        await session.flush()
        for n, (name, status, tags) in enumerate(
            [("Иванов Пётр", "client", ["vip"]), ("Сидорова Анна", "lead", ["vip"])]
        ):
            contact = Contact(display_name=name, status=status, tags=tags, company_id=company.id)
            session.add(contact)
            await session.flush()
            e164 = f"+7495123456{n}"
            session.add(ContactPhone(contact_id=contact.id, raw=e164, e164=e164))
        session.add(Contact(display_name="Без меток", status="client"))
        await session.commit()

    async def signed_in(name: str) -> TestClient[Any, Any]:
        settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path / "data")})
        client = await aiohttp_client(
            create_app(WebServices(settings, db, unconnected_telephony()))
        )
        await sign_in(client, name)
        return client

    return signed_in


async def test_a_supervisor_saves_reads_edits_and_deletes_a_segment(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    client = await login("super")
    assert "Сегменты" in await (await client.get("/segments")).text()
    bad = await client.post(
        "/segments/new", data={"name": "VIP", "tags": "vip", "no_contact_days": "0"}
    )
    assert bad.status == 400
    assert "целое число дней" in await bad.text()
    created = await client.post(
        "/segments/new",
        data={"name": "VIP", "tags": "vip", "statuses": ["client", "lead"], "tags_match": "any"},
        allow_redirects=False,
    )
    assert created.status == 303
    url = created.headers["Location"]
    page = await (await client.get(url)).text()
    assert 'data-testid="segment-count">2<' in page
    assert "Иванов Пётр" in page and "Сидорова Анна" in page and "Без меток" not in page
    assert "/clients/" in page
    # a supervisor may export but not make dial lists
    assert "dial-list-form" not in page and "no-campaigns" not in page

    edited = await client.post(
        url,
        data={"name": "VIP клиенты", "tags": "vip", "statuses": "client"},
        allow_redirects=False,
    )
    assert edited.status == 303
    page = await (await client.get(url)).text()
    assert 'data-testid="segment-count">1<' in page and "VIP клиенты" in page
    clash = await client.post("/segments/new", data={"name": "vip КЛИЕНТЫ"})
    assert clash.status == 400 and "уже есть" in await clash.text()

    deleted = await client.post(url + "/delete", allow_redirects=False)
    assert deleted.status == 303
    assert (await client.get(url)).status == 404


async def test_exports_are_neutralised_and_audited(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    client = await login("super")
    created = await client.post(
        "/segments/new", data={"name": "VIP", "tags": "vip"}, allow_redirects=False
    )
    url = created.headers["Location"]
    response = await client.get(url + "/export.csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["ID", "Имя", "Компания"]
    assert {row[3] for row in rows[1:]} == {"+74951234560", "+74951234561"}
    assert all(row[2].startswith("'=HYPERLINK") for row in rows[1:])

    xlsx = await client.get(url + "/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(await xlsx.read())).active
    assert sheet is not None
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 3 and {row[3] for row in values[1:]} == {"+74951234560", "+74951234561"}

    search = await client.get("/clients/export.csv?q=Сидорова")
    found = list(csv.reader(io.StringIO((await search.read()).decode("utf-8-sig")), delimiter=";"))
    assert [row[1] for row in found[1:]] == ["Сидорова Анна"]

    async with db() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        segment_id = await session.scalar(select(Segment.id))
    assert [(e.action, e.details["format"], e.details["rows"]) for e in entries] == [
        ("contacts.export", "csv", 2),
        ("contacts.export", "xlsx", 2),
        ("contacts.export", "csv", 1),
    ]
    assert entries[0].details["filter"] == {
        "segment_id": segment_id,
        "filters": {"tags": ["vip"], "tags_match": "any"},
    }
    assert entries[2].details["filter"] == {"search": "Сидорова"}


async def test_a_manager_turns_a_segment_into_a_dial_list(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    client = await login("boss")
    created = await client.post(
        "/segments/new", data={"name": "VIP", "tags": "vip"}, allow_redirects=False
    )
    url = created.headers["Location"]
    assert 'data-testid="no-campaigns"' in await (await client.get(url)).text()
    async with db() as session:
        campaign = Campaign(name="Весенний обзвон")
        session.add_all([campaign, Campaign(name="Старый", status="finished")])
        await session.commit()
    page = await (await client.get(url)).text()
    assert "Весенний обзвон" in page and "Старый" not in page
    made = await client.post(
        url + "/dial-list", data={"campaign_id": str(campaign.id)}, allow_redirects=False
    )
    assert made.status == 303
    assert "added=2" in made.headers["Location"]
    page = await (await client.get(made.headers["Location"])).text()
    assert 'data-testid="dial-list-outcome"' in page
    async with db() as session:
        assert len(list(await session.scalars(select(Lead)))) == 2


async def test_segments_api_validates_and_pages(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    client = await login("super")
    bad = await client.post(
        "/api/v1/segments", json={"name": "", "filters": {"statuses": ["vip"], "colour": 1}}
    )
    assert bad.status == 400
    assert set((await bad.json())["fields"]) == {"statuses", "colour"}
    created = await client.post(
        "/api/v1/segments", json={"name": "Все", "filters": {"statuses": ["client", "lead"]}}
    )
    assert created.status == 201
    segment = await created.json()
    listed = await (await client.get("/api/v1/segments")).json()
    assert [s["name"] for s in listed["segments"]] == ["Все"]
    first = await (await client.get(f"/api/v1/segments/{segment['id']}/clients?limit=2")).json()
    assert first["count"] == 3 and len(first["clients"]) == 2 and first["next_after"]
    rest = await (
        await client.get(f"/api/v1/segments/{segment['id']}/clients?after={first['next_after']}")
    ).json()
    names = [c["name"] for c in first["clients"] + rest["clients"]]
    assert sorted(names) == ["Без меток", "Иванов Пётр", "Сидорова Анна"]
    assert rest["next_after"] is None
    assert (await client.get("/api/v1/segments/999999/clients")).status == 404


async def test_segment_roles(login: Login) -> None:
    operator = await login("op")
    for path in ("/segments", "/segments/new", "/api/v1/segments", "/clients/export.csv?q=abc"):
        assert (await operator.get(path)).status == 403, path
    await operator.close()
    supervisor = await login("super")
    created = await supervisor.post("/segments/new", data={"name": "Все"}, allow_redirects=False)
    url = created.headers["Location"]
    assert (await supervisor.post(url + "/dial-list", data={"campaign_id": "1"})).status == 403
