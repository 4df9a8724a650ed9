"""The funnel's pages and JSON API through a real aiohttp server and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings
from callcenter.models import AuditEntry, Deal, DealStageChange, PipelineStage, RefusalReason
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import World, make_world
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

Client = TestClient[Any, Any]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    world = await make_world(db)
    async with db() as session:
        for login, role in (("boss", "manager"), ("root", "admin")):
            await add_user(
                session, login=login, full_name=login.title(), role=role, password="correct-horse"
            )
        await session.commit()
    return world


@pytest.fixture
async def clients(
    db: async_sessionmaker[AsyncSession], world: World, aiohttp_client: ClientFactory
) -> AsyncIterator[Callable[[str], Awaitable[Client]]]:
    """A signed-in client per login, all on one server."""
    services = WebServices(load_settings({}), db, unconnected_telephony())
    app = create_app(services)
    made: list[Client] = []

    async def signed_in(login: str) -> Client:
        # one server; each further person gets their own cookie jar on it
        client = await aiohttp_client(app) if not made else TestClient(made[0].server)
        made.append(client)
        response = await client.post(
            "/login", data={"login": login, "password": "correct-horse"}, allow_redirects=False
        )
        assert response.status == 303
        return client

    yield signed_in
    for client in made[1:]:
        await client.session.close()  # the server is the first client's to close


async def ids(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with db() as session:
        stages = {s.name: s.id for s in await session.scalars(select(PipelineStage))}
        reasons = {r.name: r.id for r in await session.scalars(select(RefusalReason))}
    return {**stages, **reasons}


async def test_api_opens_moves_and_lists_deals(
    clients: Callable[[str], Awaitable[Client]],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    anna = await clients("op101")
    known = await ids(db)
    response = await anna.post(
        "/api/v1/deals",
        json={"title": "Окна", "contact_id": world.contact_id, "amount": "9900.5"},
    )
    assert response.status == 201, await response.text()
    deal = await response.json()
    assert deal["stage"]["name"] == "Новая заявка" and deal["amount"] == "9900.50"
    assert deal["owner"]["id"] == world.operators["101"].id
    assert deal["company_name"] == "ООО «Ромашка»"  # the client's company

    bad = await anna.post("/api/v1/deals", json={"title": "", "amount": -1})
    assert bad.status == 400
    assert set((await bad.json())["fields"]) == {"title", "amount", "contact_id"}

    url = f"/api/v1/deals/{deal['id']}/stage"
    refused = await anna.post(url, json={"stage_id": known["Отказ"]})
    assert refused.status == 400
    assert (await refused.json())["fields"] == {
        "refusal_reason_id": "Choose why the client refused."
    }
    assert (await (await anna.post(url, json={"stage_id": "x"})).json())["fields"] == {
        "stage_id": "Choose a stage."
    }
    moved = await anna.post(
        url, json={"stage_id": known["Отказ"], "refusal_reason_id": known["Дорого"]}
    )
    assert moved.status == 200
    body = await moved.json()
    assert body["moved"] and body["deal"]["is_lost"] and body["deal"]["refusal_reason"] == "Дорого"
    assert [h["to"] for h in body["deal"]["history"]] == ["Новая заявка", "Отказ"]
    assert body["deal"]["history"][-1]["changed_by"] == "Анна Смирнова"

    lost = await (await anna.get(f"/api/v1/deals?stage={known['Отказ']}")).json()
    assert [d["id"] for d in lost["deals"]] == [deal["id"]]
    mine = await (await anna.get("/api/v1/deals?owner=me")).json()
    assert [d["id"] for d in mine["deals"]] == [deal["id"]]
    assert (await anna.get("/api/v1/deals?contact=abc")).status == 400
    stages = await (await anna.get("/api/v1/stages")).json()
    assert [s["kind"] for s in stages["stages"]][-2:] == ["won", "lost"]
    reasons = await (await anna.get("/api/v1/refusal-reasons")).json()
    assert "Дорого" in {r["name"] for r in reasons["refusal_reasons"]}
    assert (await anna.get("/api/v1/deals/999999")).status == 404


async def test_api_honours_own_clients_only(
    clients: Callable[[str], Awaitable[Client]],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, None)
        await session.commit()
        deal_id = await session.scalar(select(Deal.id))
    anna = await clients("op101")  # Иван Петров is op102's client
    assert (await (await anna.get("/api/v1/deals")).json())["deals"] == []
    assert (await anna.get(f"/api/v1/deals/{deal_id}")).status == 404
    known = await ids(db)
    moved = await anna.post(f"/api/v1/deals/{deal_id}/stage", json={"stage_id": known["Успешно"]})
    assert moved.status == 404
    dmitry = await clients("op102")
    assert [d["id"] for d in (await (await dmitry.get("/api/v1/deals")).json())["deals"]] == [
        deal_id
    ]
    assert (await (await anna.get("/deals")).text()).count('data-testid="deal-card"') == 0
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(DealStageChange)) == 0


async def test_pages_show_the_board_and_refuse_a_lost_stage_without_reason(
    clients: Callable[[str], Awaitable[Client]],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    anna = await clients("op101")
    form = await anna.get(f"/deals/new?contact_id={world.contact_id}")
    assert form.status == 200 and "Петров Иван" in await form.text()
    created = await anna.post(
        "/deals/new",
        data={"contact_id": str(world.contact_id), "title": "<b>Двери</b>", "amount": "1 500"},
        allow_redirects=False,
    )
    assert created.status == 303
    deal_url = created.headers["Location"]
    board = await (await anna.get("/deals")).text()
    assert "&lt;b&gt;Двери&lt;/b&gt;" in board and "<b>Двери" not in board
    assert f'href="/clients/{world.contact_id}"' in board and "1\u00a0500.00 RUB" in board

    known = await ids(db)
    refused = await anna.post(deal_url + "/stage", data={"stage_id": str(known["Отказ"])})
    assert refused.status == 400
    page = await refused.text()
    assert "Выберите, почему клиент отказался." in page  # Russian by default
    moved = await anna.post(
        deal_url + "/stage",
        data={"stage_id": str(known["Отказ"]), "refusal_reason_id": str(known["Дорого"])},
        allow_redirects=False,
    )
    assert moved.status == 303
    page = await (await anna.get(deal_url)).text()
    assert 'data-state="lost"' in page and "Дорого" in page

    boss = await clients("boss")
    anna_id = world.operators["101"].id
    for owner, shown in (("", True), (str(anna_id), True), ("me", False)):
        board = await (await boss.get(f"/deals?owner={owner}")).text()
        assert ("Двери" in board) == shown, owner

    empty = await anna.post("/deals/new", data={"title": ""})
    assert empty.status == 400 and "Укажите название сделки." in await empty.text()


async def test_only_admins_set_up_stages_and_reasons(
    clients: Callable[[str], Awaitable[Client]], db: async_sessionmaker[AsyncSession]
) -> None:
    boss = await clients("boss")
    for url in ("/admin/stages", "/admin/refusal-reasons"):
        assert (await boss.get(url)).status == 403
        assert (await boss.post(url, data={"action": "add", "name": "x"})).status == 403
    root = await clients("root")
    assert (await root.get("/admin/stages")).status == 200
    added = await root.post(
        "/admin/stages",
        data={"action": "add", "name": "Замер", "kind": "open"},
        allow_redirects=False,
    )
    assert added.status == 303
    known = await ids(db)
    used = await root.post(
        "/admin/stages", data={"action": "delete", "id": str(known["Переговоры"])}
    )
    assert used.status == 400 and "отключите его вместо удаления" in await used.text()
    added = await root.post(
        "/admin/refusal-reasons", data={"action": "add", "name": "Переехали"}, allow_redirects=False
    )
    assert added.status == 303
    taken = await root.post("/admin/refusal-reasons", data={"action": "add", "name": "дорого"})
    assert taken.status == 400
    known = await ids(db)
    assert "Замер" in known and "Переехали" in known


async def test_leaders_download_the_board_as_csv_and_xlsx_with_formulas_neutralised(
    clients: Callable[[str], Awaitable[Client]],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    anna = await clients("op101")
    created = await anna.post(
        "/deals/new",
        data={"contact_id": str(world.contact_id), "title": "=HYPERLINK(1)", "amount": "2500"},
        allow_redirects=False,
    )
    assert created.status == 303
    refused = await anna.get("/deals?format=csv")
    assert refused.status == 403  # operators do not export lists

    boss = await clients("boss")
    csv_file = await boss.get("/deals?format=csv")
    assert csv_file.status == 200
    assert csv_file.headers["Content-Disposition"] == 'attachment; filename="deals.csv"'
    lines = (await csv_file.read()).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ID;Название;Клиент;Компания;Этап")
    (row,) = [line for line in lines[1:] if "HYPERLINK" in line]
    assert ";'=HYPERLINK(1);Петров Иван;" in row and ";2500" in row

    book = openpyxl.load_workbook(io.BytesIO(await (await boss.get("/deals?format=xlsx")).read()))
    sheet = book.active
    assert sheet is not None
    titles = [cell.value for cell in sheet[1]]
    values = {
        titles[i]: cell.value
        for row in sheet.iter_rows(min_row=2)
        for i, cell in enumerate(row)
        if row[1].value == "'=HYPERLINK(1)"
    }
    assert values["Сумма"] == 2500 and values["Клиент"] == "Петров Иван"
    assert (await boss.get("/deals?format=pdf")).status == 400

    async with db() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "deals.export"))
        ).all()
    assert len(entries) == 2 and all(e.details["rows"] >= 1 for e in entries)
