"""The admin pages through a real aiohttp server and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import audit, center_settings
from callcenter.models import (
    AuditEntry,
    CustomFieldDefinition,
    Disposition,
    Team,
    User,
    WebSession,
)
from tests.integration.cti_helpers import make_world
from tests.integration.staff_helpers import (
    ClientFactory,
    Staff,
    make_staff,
    sign_in,
    sign_in_token,
    web_client,
)
from web.hub import Hub

pytestmark = pytest.mark.db

NEW_OPERATOR = {
    "login": "petrova",
    "full_name": "Ольга Петрова",
    "role": "operator",
    "language": "ru",
    "time_zone": "Asia/Yekaterinburg",
    "extension": "105",
    "interface": "PJSIP/op105",
    "team_id": "",
    "password": "long-enough-1",
}


@pytest.fixture
async def staff(db: async_sessionmaker[AsyncSession]) -> Staff:
    return await make_staff(db)


@pytest.fixture
async def admin(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, staff: Staff
) -> TestClient[Any, Any]:
    client = await web_client(db, aiohttp_client)
    assert (await sign_in(client, "admin")).status == 303
    return client


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_admin_index_links_every_admin_page(admin: TestClient[Any, Any]) -> None:
    text = await (await admin.get("/admin")).text()
    for path in (
        "/admin/users",
        "/admin/queues",
        "/admin/dispositions",
        "/admin/refusal-reasons",
        "/admin/stages",
        "/admin/channels",
        "/admin/custom-fields",
        "/admin/settings",
        "/admin/audit",
    ):
        assert f'href="{path}"' in text


async def test_admin_adds_a_user_who_can_then_sign_in(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    response = await admin.post("/admin/users", data=NEW_OPERATOR, allow_redirects=False)
    assert response.status == 303
    async with db() as session:
        user = (await session.execute(select(User).where(User.login == "petrova"))).scalar_one()
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "user.create"))
        ).scalar_one()
    assert (user.full_name, user.role, user.time_zone) == (
        "Ольга Петрова",
        "operator",
        NEW_OPERATOR["time_zone"],
    )
    assert (user.extension, user.interface) == ("105", "PJSIP/op105")
    assert entry.entity_id == str(user.id)
    page = await (await admin.get("/admin/users")).text()
    assert "Ольга Петрова" in page and "PJSIP/op105" in page
    assert await sign_in_token(db, "petrova", "long-enough-1")


async def test_a_refused_user_form_keeps_what_was_typed_and_stores_nothing(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    before = await count(db, User)
    typed = {
        **NEW_OPERATOR,
        "full_name": "Ольга <b>Петрова</b>",
        "extension": "10a",
        "interface": "op105",
        "time_zone": "Mars/Olympus",
        "password": "short",
    }
    response = await admin.post("/admin/users", data=typed)
    text = await response.text()
    assert response.status == 400
    assert 'value="petrova"' in text and "Ольга &lt;b&gt;Петрова&lt;/b&gt;" in text
    assert 'value="10a"' in text and 'value="op105"' in text
    assert "Только цифры, например 105." in text
    assert "Технология/имя, например PJSIP/op105." in text
    assert "Выберите часовой пояс." in text
    assert "Не меньше 8 символов." in text
    assert "short" not in text  # a password is never sent back
    assert await count(db, User) == before


async def test_an_extension_taken_by_another_user_is_refused_clearly(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    await make_world(db)  # Анна Смирнова (op101) has extension 101, PJSIP/op101
    before = await count(db, User)
    taken = {**NEW_OPERATOR, "extension": "101", "interface": "pjsip/OP101"}
    response = await admin.post("/admin/users", data=taken)
    text = await response.text()
    assert response.status == 400
    assert "Внутренний номер 101 уже занят: Анна Смирнова (op101)." in text
    assert "Устройство pjsip/OP101 уже занято: Анна Смирнова (op101)." in text
    assert await count(db, User) == before

    # the same check when an existing user is edited
    async with db() as session:
        dmitry = (await session.execute(select(User).where(User.login == "op102"))).scalar_one()
    edited = {**NEW_OPERATOR, "full_name": "Дмитрий Кузнецов", "extension": "101"}
    del edited["login"], edited["password"]
    response = await admin.post(f"/admin/users/{dmitry.id}", data=edited)
    assert response.status == 400
    assert "Внутренний номер 101 уже занят" in await response.text()
    async with db() as session:
        again = await session.get(User, dmitry.id)
        assert again is not None and again.extension == "102"


async def test_admin_edits_everything_but_the_login(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    async with db() as session:
        team = Team(name="Продажи")
        session.add(team)
        await session.commit()
    operator = staff.users["operator"]
    form = {**NEW_OPERATOR, "role": "supervisor", "team_id": str(team.id), "login": "hacked"}
    response = await admin.post(f"/admin/users/{operator.id}", data=form, allow_redirects=False)
    assert response.status == 303
    async with db() as session:
        user = await session.get(User, operator.id)
        assert user is not None
        assert (user.login, user.role, user.team_id) == ("operator", "supervisor", team.id)
        assert user.time_zone == "Asia/Yekaterinburg"
    # an admin cannot demote themselves (the last admin would lock everyone out)
    mine = {**form, "role": "operator", "extension": "", "interface": "", "team_id": ""}
    response = await admin.post(f"/admin/users/{staff.users['admin'].id}", data=mine)
    assert response.status == 400
    assert "Свою роль изменить нельзя." in await response.text()


async def test_a_deactivated_user_cannot_sign_in_and_their_sessions_end(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, staff: Staff
) -> None:
    hub = Hub()
    client = await web_client(db, aiohttp_client, hub)
    operator = staff.users["operator"]
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    live = await client.ws_connect("/ws", headers={**staff.cookie("operator"), **origin})
    assert (await live.receive_json(timeout=5))["type"] == "hello"

    assert (await sign_in(client, "admin")).status == 303
    own = await client.post(f"/admin/users/{staff.users['admin'].id}/active", data={"active": "0"})
    assert own.status == 400  # not yourself
    response = await client.post(
        f"/admin/users/{operator.id}/active", data={"active": "0"}, allow_redirects=False
    )
    assert response.status == 303

    # the open live channel is closed, the session is gone, signing in is refused
    closed = await live.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with db() as session:
        left = await session.scalar(select(func.count()).where(WebSession.user_id == operator.id))
    assert left == 0
    client.session.cookie_jar.clear()
    stale = await client.get("/", headers=staff.cookie("operator"), allow_redirects=False)
    assert stale.status == 303 and stale.headers["Location"] == "/login"
    assert (await sign_in(client, "operator")).status == 401

    # and back
    await sign_in(client, "admin")
    await client.post(f"/admin/users/{operator.id}/active", data={"active": "1"})
    assert (await sign_in(client, "operator")).status == 303
    async with db() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["user.deactivate", "user.activate"]


async def test_admin_resets_a_password(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    operator = staff.users["operator"]
    short = await admin.post(f"/admin/users/{operator.id}/password", data={"password": "abc"})
    assert short.status == 400 and "Не меньше 8 символов." in await short.text()
    response = await admin.post(
        f"/admin/users/{operator.id}/password",
        data={"password": "new-secret-42"},
        allow_redirects=False,
    )
    assert response.status == 303
    async with db() as session:
        assert not await session.scalar(
            select(func.count()).where(WebSession.user_id == operator.id)
        )
    admin.session.cookie_jar.clear()
    assert (await sign_in(admin, "operator")).status == 401
    assert (await sign_in(admin, "operator", "new-secret-42")).status == 303


async def test_teams_are_added_and_renamed_with_unique_names(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    assert (await admin.post("/admin/teams", data={"name": " Продажи "})).status == 200
    twin = await admin.post("/admin/teams", data={"name": "продажи"})
    assert twin.status == 400
    text = await twin.text()
    assert "Группа с таким названием уже есть." in text and 'value="продажи"' in text
    async with db() as session:
        team = (await session.execute(select(Team))).scalar_one()
    assert team.name == "Продажи"
    await admin.post(f"/admin/teams/{team.id}", data={"name": "Поддержка"})
    async with db() as session:
        assert (await session.get(Team, team.id)) is not None
        assert [t.name for t in await session.scalars(select(Team))] == ["Поддержка"]


async def test_call_results_are_added_edited_reordered_and_deactivated(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    for code, ru in (("big_sale", "Крупная продажа"), ("thinks_it_over", "Подумает")):
        await admin.post("/admin/dispositions", data={"code": code, "label_ru": ru})
    bad = await admin.post(
        "/admin/dispositions", data={"code": "Sale Now", "label_ru": "", "label_en": "Sale"}
    )
    text = await bad.text()
    assert bad.status == 400
    assert "Только строчные латинские буквы" in text and 'value="Sale Now"' in text
    assert "Введите название по-русски." in text
    taken = await admin.post("/admin/dispositions", data={"code": "big_sale", "label_ru": "Ещё"})
    assert taken.status == 400 and "Такой код уже есть." in await taken.text()

    async def active_codes() -> list[str]:
        async with db() as session:
            return list(
                await session.scalars(
                    select(Disposition.code)
                    .where(Disposition.is_active)
                    .order_by(Disposition.position, Disposition.id)
                )
            )

    assert (await active_codes())[-2:] == ["big_sale", "thinks_it_over"]  # new ones go last
    async with db() as session:
        rows = {d.code: d for d in await session.scalars(select(Disposition))}
    sale, thinking = rows["big_sale"], rows["thinks_it_over"]
    await admin.post(
        f"/admin/dispositions/{thinking.id}",
        data={"label_ru": "Не интересует", "label_en": "Not interested", "needs_callback": "on"},
    )
    await admin.post(f"/admin/dispositions/{thinking.id}/move", data={"direction": "up"})
    assert (await active_codes())[-2:] == ["thinks_it_over", "big_sale"]
    await admin.post(f"/admin/dispositions/{sale.id}/active", data={})
    assert "big_sale" not in await active_codes()

    async with db() as session:
        edited = await session.get(Disposition, thinking.id)
        assert edited is not None
    assert (edited.label_ru, edited.label_en, edited.needs_callback) == (
        "Не интересует",
        "Not interested",
        True,
    )
    page = await (await admin.get("/admin/dispositions")).text()
    assert 'data-code="big_sale"' in page  # still listed, to be switched back on


async def test_custom_fields_are_defined_with_their_choices(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    no_choices = {
        "entity": "contact",
        "key": "source",
        "value_type": "choice",
        "label_ru": "Откуда",
    }
    refused = await admin.post("/admin/custom-fields", data=no_choices)
    assert refused.status == 400
    text = await refused.text()
    assert "Перечислите варианты, по одному в строке." in text and 'value="source"' in text
    assert await count(db, CustomFieldDefinition) == 0

    ok = {**no_choices, "choices": "Сайт\n\nЗвонок\nСайт\n"}
    assert (await admin.post("/admin/custom-fields", data=ok)).status == 200
    bad_key = await admin.post("/admin/custom-fields", data={**ok, "key": "1st"})
    assert bad_key.status == 400
    twin = await admin.post("/admin/custom-fields", data=ok)
    assert twin.status == 400 and "Такой ключ уже есть." in await twin.text()
    async with db() as session:
        field = (await session.execute(select(CustomFieldDefinition))).scalar_one()
    assert (field.entity, field.key, field.choices) == ("contact", "source", ["Сайт", "Звонок"])

    await admin.post(
        f"/admin/custom-fields/{field.id}",
        data={"label_ru": "Источник", "choices": "Сайт\nЗвонок\nВыставка", "key": "changed"},
    )
    await admin.post(f"/admin/custom-fields/{field.id}/active", data={})
    async with db() as session:
        again = await session.get(CustomFieldDefinition, field.id)
        assert again is not None
    assert (again.key, again.label_ru, again.is_active) == ("source", "Источник", False)
    assert again.choices == ["Сайт", "Звонок", "Выставка"]


async def test_center_settings_are_saved_all_or_nothing(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession]
) -> None:
    page = await (await admin.get("/admin/settings")).text()
    assert 'value="15"' in page and 'value="20"' in page  # the defaults
    bad = {"operators_see_own_clients_only": "on", "follow_up_days": "0", "sla_seconds": "abc"}
    response = await admin.post("/admin/settings", data=bad)
    text = await response.text()
    assert response.status == 400
    assert "Целое число от 1 до 365." in text and "Целое число от 1 до 600." in text
    assert 'value="abc"' in text
    async with db() as session:
        assert await center_settings.load(session) == center_settings.CenterSettings()

    good = {
        "operators_see_own_clients_only": "on",
        "follow_up_days": "30",
        "sla_seconds": "15",
        "recording_retention_days": "365",
    }
    response = await admin.post("/admin/settings", data=good, allow_redirects=False)
    assert response.status == 303
    async with db() as session:
        stored = await center_settings.load(session)
        entry = (await session.execute(select(AuditEntry))).scalar_one()
    assert stored == center_settings.CenterSettings(True, 30, 15, 365)
    assert entry.action == "settings.update" and entry.details["follow_up_days"] == 30
    assert "checked" in await (await admin.get("/admin/settings")).text()


async def test_operators_limited_to_their_own_clients_find_only_those(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    await make_world(db)  # Иван Петров is op102's client
    client = await web_client(db, aiohttp_client)

    async def found(login: str) -> list[int]:
        client.session.cookie_jar.clear()
        await sign_in(client, login)
        body = await (await client.get("/api/v1/clients", params={"q": "Петров"})).json()
        return [c["contact_id"] for c in body["clients"]]

    assert len(await found("op101")) == 1
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, None)
        await session.commit()
    assert await found("op101") == []
    assert len(await found("op102")) == 1
    page = await (await client.get("/clients", params={"q": "Петров"})).text()
    assert "Петров Иван" in page


async def test_audit_log_newest_first_filtered_and_paged(
    admin: TestClient[Any, Any], db: async_sessionmaker[AsyncSession], staff: Staff
) -> None:
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    async with db() as session:
        for i in range(60):
            await audit.record(session, staff.users["operator"], "contact.read", "contact", i)
        await audit.record(session, staff.users["manager"], "contacts.export", "segment", 7)
        await session.flush()
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        for i, entry in enumerate(entries):
            entry.occurred_at = start + timedelta(minutes=i)
        entries[-1].occurred_at = start + timedelta(days=2)
        await session.commit()

    first = await (await admin.get("/admin/audit")).text()
    # newest first
    assert first.index('data-action="contacts.export"') < first.index('data-action="contact.read"')
    assert first.count('data-action="') == 50 and 'data-testid="next-page"' in first
    second = await (await admin.get("/admin/audit", params={"page": "2"})).text()
    assert second.count('data-action="') == 11 and 'data-testid="next-page"' not in second

    by_manager = await admin.get("/admin/audit", params={"actor": str(staff.users["manager"].id)})
    assert (await by_manager.text()).count('data-action="') == 1
    by_action = await (await admin.get("/admin/audit", params={"action": "contact"})).text()
    assert by_action.count('data-action="contact.read"') == 50
    # days are the reader's (Moscow): 03.03 15:00 local is the export
    on_the_day = await admin.get("/admin/audit", params={"from": "2025-03-03", "to": "2025-03-03"})
    text = await on_the_day.text()
    assert text.count('data-action="') == 1 and "03.03.2025 15:00:00" in text
    bad = await admin.get("/admin/audit", params={"from": "yesterday"})
    assert bad.status == 400 and "Дата вида 2025-03-31." in await bad.text()


async def test_queues_page_says_when_telephony_is_down(admin: TestClient[Any, Any]) -> None:
    text = await (await admin.get("/admin/queues")).text()
    assert 'data-testid="queues-unavailable"' in text
    assert "АТС не отвечает" in text
