"""Task pages and /api/v1/tasks through a real aiohttp server and PostgreSQL: who may
do what, bad input refused with nothing lost, a new task announced live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import auth
from callcenter.models import AuditEntry, Task, User
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import make_world
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass
class Team:
    client: TestClient[Any, Any]
    cookies: dict[str, str]  # login -> Cookie header
    users: dict[str, User]
    contact_id: int

    def as_(self, login: str, **headers: str) -> dict[str, str]:
        return {"Cookie": self.cookies[login], **headers}


@pytest.fixture
async def team(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> AsyncIterator[Team]:
    world = await make_world(db)
    users = {"op101": world.operators["101"], "op102": world.operators["102"]}
    cookies = {}
    async with db() as session:
        users["boss"] = await add_user(
            session, login="boss", full_name="Борис Босс", role="manager", password="correct-horse"
        )
        for login in users:
            signed = await auth.sign_in(session, login, "correct-horse")
            assert signed is not None
            cookies[login] = f"cc_session={signed.token}"
        await session.commit()
    services = WebServices(load_settings({}), db, unconnected_telephony())
    client = await aiohttp_client(create_app(services))
    yield Team(client, cookies, users, world.contact_id)


async def task_count(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return await session.scalar(select(func.count(Task.id))) or 0


async def test_the_api_creates_lists_and_changes_tasks_by_the_rules(
    team: Team, db: async_sessionmaker[AsyncSession]
) -> None:
    client, op101, op102 = team.client, team.users["op101"], team.users["op102"]
    due = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).astimezone(MOSCOW)
    response = await client.post(
        "/api/v1/tasks",
        json={
            "kind": "callback",
            "title": "Перезвонить по счёту",
            "due_at": due.isoformat(),
            "contact_id": team.contact_id,
        },
        headers=team.as_("op101"),
    )
    assert response.status == 201, await response.text()
    created = (await response.json())["task"]
    assert created["assignee_id"] == op101.id and created["contact_name"] == "Петров Иван"
    assert datetime.fromisoformat(created["remind_at"]) == due and created["overdue"] is False

    before = await task_count(db)
    refused = [
        ({"title": "Чужое", "assignee_id": op102.id}, "assignee_id"),
        ({"title": "Без срока", "kind": "callback"}, "due_at"),
        ({"title": "Наивное", "due_at": "2026-12-01T10:00:00"}, "due_at"),
        ({"title": "  "}, "title"),
        ({"title": "x", "kind": "party"}, "kind"),
        ({"title": "x", "priority": 1}, "priority"),
    ]
    for body, field in refused:
        response = await client.post("/api/v1/tasks", json=body, headers=team.as_("op101"))
        assert response.status == 400, body
        assert field in (await response.json())["fields"], body
    assert await task_count(db) == before

    listed = await client.get("/api/v1/tasks", headers=team.as_("op101"))
    assert [t["title"] for t in (await listed.json())["tasks"]] == ["Перезвонить по счёту"]
    peek = await client.get(f"/api/v1/tasks?assignee={op102.id}", headers=team.as_("op101"))
    assert peek.status == 403
    by_boss = await client.get(f"/api/v1/tasks?assignee={op101.id}", headers=team.as_("boss"))
    assert [t["id"] for t in (await by_boss.json())["tasks"]] == [created["id"]]
    bad_filter = await client.get("/api/v1/tasks?status=later", headers=team.as_("op101"))
    assert bad_filter.status == 400 and "status" in (await bad_filter.json())["fields"]

    url = f"/api/v1/tasks/{created['id']}"
    assert (
        await client.patch(url, json={"title": "Моё!"}, headers=team.as_("op102"))
    ).status == 403
    async with db() as session:
        task = await session.get(Task, created["id"])
        assert task is not None
        task.reminded_at = datetime.now(UTC)
        await session.commit()
    later = due + timedelta(days=1)
    response = await client.patch(
        url, json={"due_at": later.isoformat()}, headers=team.as_("op101")
    )
    assert response.status == 200
    async with db() as session:
        task = await session.get(Task, created["id"])
        assert task is not None and task.reminded_at is None and task.remind_at == later

    response = await client.patch(url, json={"title": ""}, headers=team.as_("op101"))
    assert response.status == 400 and "title" in (await response.json())["fields"]
    response = await client.patch(url, json={"status": "open"}, headers=team.as_("op101"))
    assert response.status == 400 and "status" in (await response.json())["fields"]
    response = await client.patch(url, json={"status": "done"}, headers=team.as_("op101"))
    assert (await response.json())["task"]["status"] == "done"
    response = await client.patch(url, json={"status": "cancelled"}, headers=team.as_("op101"))
    assert response.status == 400
    async with db() as session:
        task = await session.get(Task, created["id"])
        assert task is not None
        assert (task.title, task.status) == ("Перезвонить по счёту", "done")
        assert task.done_at is not None


async def test_a_task_given_by_a_manager_reaches_the_operator_live(team: Team) -> None:
    op101 = team.users["op101"]
    async with team.client.ws_connect("/ws", headers=team.as_("op101")) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        response = await team.client.post(
            "/api/v1/tasks",
            json={"kind": "meeting", "title": "Встреча в офисе", "assignee_id": op101.id},
            headers=team.as_("boss"),
        )
        assert response.status == 201
        message = await ws.receive_json(timeout=5)
    assert message["type"] == "task.assigned"
    assert message["data"]["title"] == "Встреча в офисе"
    assert message["data"]["assignee_id"] == op101.id


async def test_pages_show_the_day_and_the_load_to_the_right_people(
    team: Team, db: async_sessionmaker[AsyncSession]
) -> None:
    client, op101 = team.client, team.users["op101"]
    async with db() as session:
        overdue = Task(
            title="Просроченный звонок",
            kind="callback",
            assignee_id=op101.id,
            due_at=datetime.now(UTC) - timedelta(minutes=10),
            contact_id=team.contact_id,
        )
        session.add(overdue)
        await session.commit()
    page = await client.get("/tasks", headers=team.as_("op101"))
    html = await page.text()
    assert page.status == 200
    assert f'data-task-id="{overdue.id}"' in html and 'data-testid="task-overdue"' in html
    assert f'href="/clients/{team.contact_id}"' in html and "Петров Иван" in html
    assert "Отправить КП" in html  # nobody's task, offered to take

    assert (await client.get(f"/tasks?user={op101.id}", headers=team.as_("op102"))).status == 403
    theirs = await client.get(f"/tasks?user={op101.id}", headers=team.as_("boss"))
    assert "Просроченный звонок" in await theirs.text()
    assert (await client.get("/tasks/load", headers=team.as_("op101"))).status == 403
    load = await client.get("/tasks/load", headers=team.as_("boss"))
    load_html = await load.text()
    assert load.status == 200 and 'class="overdue-count">1<' in load_html

    origin = str(client.make_url("/")).rstrip("/")
    form = {
        "kind": "callback",
        "title": "Перезвонить завтра",
        "due_date": "2030-01-15",
        "due_time": "10:30",
        "remind": "15",
        "assignee_id": str(op101.id),
        "contact_id": str(team.contact_id),
        "notes": "",
    }
    headers = team.as_("op101", Origin=origin)
    response = await client.post("/tasks/new", data=form, headers=headers, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/tasks?day=2030-01-15"
    async with db() as session:
        task = await session.scalar(select(Task).where(Task.title == "Перезвонить завтра"))
        assert task is not None and task.created_by_id == op101.id
        assert task.due_at == datetime(2030, 1, 15, 7, 30, tzinfo=UTC)  # 10:30 in Moscow
        assert task.remind_at == datetime(2030, 1, 15, 7, 15, tzinfo=UTC)

    before = await task_count(db)
    refused = {**form, "assignee_id": str(team.users["op102"].id)}
    response = await client.post("/tasks/new", data=refused, headers=headers)
    assert response.status == 400
    assert "Назначать задачи можно только себе." in await response.text()
    assert await task_count(db) == before

    foreign = team.as_("op101", Origin="http://evil.example")
    done_url = f"/tasks/{overdue.id}/done"
    assert (await client.post(done_url, data={}, headers=foreign)).status == 403
    assert (await client.post(done_url, data={}, headers=team.as_("op102"))).status == 403
    response = await client.post(
        done_url, data={"back": "/tasks?day=2030-01-15"}, headers=headers, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/tasks?day=2030-01-15"
    async with db() as session:
        done = await session.get(Task, overdue.id)
        assert done is not None and done.status == "done" and done.done_at is not None


async def test_leaders_download_an_operators_day_in_their_own_time(
    team: Team, db: async_sessionmaker[AsyncSession]
) -> None:
    client, op101 = team.client, team.users["op101"]
    due = datetime(2030, 1, 15, 7, 30, tzinfo=UTC)  # 10:30 in Moscow, the users' zone
    async with db() as session:
        session.add(
            Task(
                title="@SUM(A1) перезвонить",
                kind="callback",
                assignee_id=op101.id,
                due_at=due,
                contact_id=team.contact_id,
            )
        )
        await session.commit()
    url = f"/tasks?user={op101.id}&day=2030-01-15"
    page = await (await client.get(url, headers=team.as_("boss"))).text()
    assert 'data-testid="export-csv"' in page
    own = await (await client.get("/tasks?day=2030-01-15", headers=team.as_("op101"))).text()
    assert 'data-testid="export-csv"' not in own
    refused = await client.get("/tasks?day=2030-01-15&format=csv", headers=team.as_("op101"))
    assert refused.status == 403

    response = await client.get(url + "&format=csv", headers=team.as_("boss"))
    assert response.status == 200
    assert f'filename="tasks-{op101.id}-2030-01-15.csv"' in response.headers["Content-Disposition"]
    lines = (await response.read()).decode("utf-8-sig").splitlines()
    assert lines[0] == "ID;Тип;Название;Статус;Срок;Выполнена;Клиент;просрочено;Заметки"
    (row,) = lines[1:]
    cells = row.split(";")
    assert cells[1:7] == [
        "Перезвонить",
        "'@SUM(A1) перезвонить",
        "Открыта",
        "15.01.2030 10:30",
        "",
        "Петров Иван",
    ]

    async with db() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "tasks.export"))
    assert entry is not None and entry.entity_id == str(op101.id) and entry.details["rows"] == 1
