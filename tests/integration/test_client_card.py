"""The client card against a real PostgreSQL: create, edit, timeline, merge, audit, recordings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings
from callcenter.call_log import CallLog
from callcenter.client_merge import duplicate_candidates
from callcenter.client_search import search_clients
from callcenter.devices import DeviceDirectory
from callcenter.models import (
    AuditEntry,
    Call,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
    Deal,
    Interaction,
    PipelineStage,
    RefusalReason,
    Task,
)
from callcenter.recordings import recording_file
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import T0, answered, ended, make_world, queue_call
from tests.integration.test_web import ClientFactory, sign_in, unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class Setup:
    ivan: int  # Петров Иван of ООО «Ромашка», +74951234567, managed by op102
    operators: dict[str, int]
    boss: int  # a supervisor
    data_dir: Path


@pytest.fixture
async def setup(db: async_sessionmaker[AsyncSession], tmp_path: Path) -> Setup:
    world = await make_world(db)
    async with db() as session:
        boss = await add_user(
            session,
            login="boss",
            full_name="Ольга Босс",
            role="supervisor",
            password="correct-horse",
        )
        await session.commit()
    return Setup(
        world.contact_id, {k: u.id for k, u in world.operators.items()}, boss.id, tmp_path / "data"
    )


@pytest.fixture
async def app_for(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, setup: Setup
) -> AsyncIterator[Any]:
    """``await app_for("op101")``: a test client signed in as that user."""

    async def signed_in(login: str) -> TestClient[Any, Any]:
        settings = load_settings({"CALLCENTER_DATA_DIR": str(setup.data_dir)})
        client = await aiohttp_client(
            create_app(WebServices(settings, db, unconnected_telephony()))
        )
        assert (await sign_in(client, login, "correct-horse")).status == 303
        return client

    yield signed_in


async def count(db: async_sessionmaker[AsyncSession], model: type) -> int:
    async with db() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_taken_phone_is_refused_naming_its_owner_and_nothing_is_stored(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    client = await app_for("op101")
    before = (await count(db, Contact), await count(db, Company), await count(db, ContactPhone))
    response = await client.post(
        "/api/v1/clients",
        json={
            "display_name": "Новый клиент",
            "company": "ООО «Новая»",
            "phones": ["+7 916 000-11-22", "8 (495) 123-45-67"],
        },
    )
    assert response.status == 400
    body = await response.json()
    assert body["fields"] == {
        "phones": f"+74951234567 already belongs to Петров Иван (#{setup.ivan})."
    }
    after = (await count(db, Contact), await count(db, Company), await count(db, ContactPhone))
    assert after == before

    # the same on the page, in the operator's Russian
    page = await client.post(
        "/clients/new",
        data={"display_name": "Новый клиент", "phones": "84951234567", "status": "lead"},
    )
    assert page.status == 400
    assert f"+74951234567 уже принадлежит клиенту Петров Иван (#{setup.ivan})." in (
        await page.text()
    )
    assert await count(db, Contact) == before[0]


async def test_a_nul_character_is_refused_not_a_server_error(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    client = await app_for("op101")
    before = await count(db, Contact)
    response = await client.post(
        "/api/v1/clients", json={"last_name": "Пет\u0000ров", "phones": ["+7 916 000-11-23"]}
    )
    assert response.status == 400
    assert "NUL" in (await response.json())["error"]
    page = await client.post(
        "/clients/new",
        data={"last_name": "Пет\u0000ров", "phones": "+79160001123", "status": "lead"},
    )
    assert page.status == 400
    assert await count(db, Contact) == before


async def test_create_then_edit_a_client_with_several_phones_and_e_mails(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        # she called before anyone knew her number
        session.add(
            Call(
                linkedid="unknown.1",
                direction="inbound",
                caller_e164="+79167654321",
                started_at=T0,
                ended_at=T0 + timedelta(minutes=2),
                result="answered",
            )
        )
        await session.commit()
    client = await app_for("op101")
    response = await client.post(
        "/api/v1/clients",
        json={
            "first_name": "Мария",
            "last_name": "Сидорова",
            "company": "ООО «Ромашка»",
            "phones": "8 916 765-43-21\n+7 (903) 111-22-33\n89167654321",
            "emails": ["Maria@Example.RU"],
            "tags": "vip, опт, vip",
            "birthday": "14.02.1990",
        },
    )
    assert response.status == 201, await response.text()
    card = (await response.json())["client"]
    assert card["name"] == "Сидорова Мария"
    assert [p["e164"] for p in card["phones"]] == ["+79167654321", "+79031112233"]
    assert card["emails"] == ["maria@example.ru"]
    assert card["tags"] == ["vip", "опт"]
    assert card["birthday"] == "1990-02-14"
    assert card["status"] == "lead"
    # the existing company is reused, and Иван shows up as her colleague
    assert card["company"]["name"] == "ООО «Ромашка»"
    assert card["colleagues"] == [{"id": setup.ivan, "name": "Петров Иван"}]
    assert await count(db, Company) == 1

    contact_id = card["id"]
    timeline = (await (await client.get(f"/api/v1/clients/{contact_id}")).json())["timeline"]
    assert [(e["kind"], e["call"]["result"]) for e in timeline["entries"]] == [("call", "answered")]
    response = await client.patch(
        f"/api/v1/clients/{contact_id}",
        json={
            "phones": ["+79031112233", "8 495 000-00-01"],
            "emails": [],
            "position": "Бухгалтер",
            "manager_id": setup.operators["101"],
        },
    )
    assert response.status == 200, await response.text()
    card = (await response.json())["client"]
    assert [p["e164"] for p in card["phones"]] == ["+79031112233", "+74950000001"]
    assert card["emails"] == []
    assert card["position"] == "Бухгалтер"
    assert card["manager"] == {"id": setup.operators["101"], "name": "Анна Смирнова"}
    assert card["first_name"] == "Мария"  # not sent, not changed

    response = await client.patch(
        f"/api/v1/clients/{contact_id}",
        json={"display_name": None, "first_name": "", "last_name": " ", "nickname": "x"},
    )
    assert response.status == 400
    assert (await response.json())["fields"] == {"nickname": "Unknown field."}
    response = await client.patch(
        f"/api/v1/clients/{contact_id}", json={"first_name": "", "last_name": ""}
    )
    assert (await response.json())["fields"] == {"display_name": "A client needs a name."}
    async with db() as session:
        stored = await session.get(Contact, contact_id)
        assert stored is not None and stored.last_name == "Сидорова"


async def test_custom_fields_are_checked_by_their_type(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        session.add_all(
            [
                CustomFieldDefinition(entity="contact", key="inn", label_ru="ИНН"),
                CustomFieldDefinition(
                    entity="contact", key="employees", label_ru="Сотрудников", value_type="number"
                ),
                CustomFieldDefinition(
                    entity="contact", key="contract", label_ru="Договор до", value_type="date"
                ),
                CustomFieldDefinition(
                    entity="contact", key="wholesale", label_ru="Оптовик", value_type="bool"
                ),
                CustomFieldDefinition(
                    entity="contact",
                    key="size",
                    label_ru="Размер",
                    value_type="choice",
                    choices=["малый", "крупный"],
                ),
            ]
        )
        await session.commit()
    client = await app_for("op101")
    url = f"/api/v1/clients/{setup.ivan}"
    wrong = {
        "employees": "много",
        "contract": "31/12/2026",
        "wholesale": "maybe",
        "size": "средний",
        "colour": "red",
    }
    response = await client.patch(url, json={"custom_fields": wrong, "tags": ["x"]})
    assert response.status == 400
    assert (await response.json())["fields"] == {
        "custom_fields.employees": "Must be a number.",
        "custom_fields.contract": "A date like 2025-03-31.",
        "custom_fields.wholesale": "Must be yes or no.",
        "custom_fields.size": "Must be one of: малый, крупный.",
        "custom_fields.colour": "Unknown field.",
    }
    right = {
        "inn": " 7701234567 ",
        "employees": "1 250,5",
        "contract": "2026-12-31",
        "wholesale": True,
        "size": "крупный",
    }
    response = await client.patch(url, json={"custom_fields": right})
    assert response.status == 200
    async with db() as session:
        contact = await session.get(Contact, setup.ivan)
        assert contact is not None
        assert contact.custom_fields == {
            "inn": "7701234567",
            "employees": 1250.5,
            "contract": "2026-12-31",
            "wholesale": True,
            "size": "крупный",
        }
        assert contact.tags == []  # the refused request stored nothing
    # an empty value clears a field; the others stay
    response = await client.patch(url, json={"custom_fields": {"inn": ""}})
    fields = {f["key"]: f["value"] for f in (await response.json())["client"]["custom_fields"]}
    assert fields["inn"] is None and fields["employees"] == 1250.5


async def test_refused_needs_a_reason_and_each_status_change_goes_on_the_timeline(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        reason = RefusalReason(name="Нашли дешевле")
        session.add(reason)
        await session.commit()
        reason_id = reason.id
    client = await app_for("op102")
    url = f"/api/v1/clients/{setup.ivan}"
    response = await client.patch(url, json={"status": "refused"})
    assert response.status == 400
    assert (await response.json())["fields"] == {
        "refusal_reason_id": "A refused client needs a refusal reason."
    }
    response = await client.patch(url, json={"status": "refused", "refusal_reason_id": reason_id})
    assert response.status == 200
    assert (await response.json())["client"]["refusal_reason"] == {
        "id": reason_id,
        "name": "Нашли дешевле",
    }
    response = await client.patch(url, json={"status": "lead"})
    assert (await response.json())["client"]["refusal_reason"] is None

    timeline = (await (await client.get(url + "/timeline")).json())["entries"]
    changes = [e for e in timeline if e["kind"] == "status_change"]
    assert [(e["payload"]["from"], e["payload"]["to"]) for e in changes] == [
        ("refused", "lead"),
        ("client", "refused"),
    ]
    assert changes[1]["payload"]["refusal_reason"] == "Нашли дешевле"
    assert {e["author"] for e in changes} == {"Дмитрий Кузнецов"}


async def test_a_note_follows_from_the_call_it_is_about(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    devices = DeviceDirectory(db)
    await devices.reload()
    call_id = await CallLog(db, devices, "RU").write(ended(answered(queue_call())))
    async with db() as session:
        call_entry = await session.scalar(
            select(Interaction.id).where(Interaction.call_id == call_id)
        )
    assert call_entry is not None  # the call log put the call on the timeline

    client = await app_for("op101")
    url = f"/api/v1/clients/{setup.ivan}/notes"
    response = await client.post(
        url, json={"text": "Обещал оплатить до пятницы", "previous_interaction_id": call_entry}
    )
    assert response.status == 201, await response.text()
    entry = (await response.json())["entry"]
    assert entry["follows"]["id"] == call_entry and entry["follows"]["kind"] == "call"
    assert entry["author"] == "Анна Смирнова"

    # an entry of another client cannot be followed, an empty note is no note
    async with db() as session:
        other = Contact(display_name="Другой")
        session.add(other)
        await session.flush()
        foreign = Interaction(contact_id=other.id, kind="note", summary="чужое")
        session.add(foreign)
        await session.commit()
    response = await client.post(url, json={"text": "x", "previous_interaction_id": foreign.id})
    assert (await response.json())["fields"] == {
        "previous_interaction_id": "No such entry on this client's timeline."
    }
    response = await client.post(url, json={"text": "  "})
    assert list((await response.json())["fields"]) == ["text"]

    # the card page shows the chain: the note names the call it follows
    page = await (await client.get(f"/clients/{setup.ivan}")).text()
    assert f'data-follows-id="{call_entry}"' in page
    assert "Обещал оплатить до пятницы" in page


async def test_any_entry_can_follow_an_earlier_one_of_the_same_client(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        entries = {}
        for minutes, kind, summary in [
            (1, "call", None),
            (2, "task", "Перезвонить: обсудить договор"),
            (3, "deal_change", "Переговоры → Выиграна"),
        ]:
            entry = Interaction(
                contact_id=setup.ivan,
                kind=kind,
                summary=summary,
                occurred_at=T0 + timedelta(minutes=minutes),
            )
            session.add(entry)
            await session.flush()
            entries[kind] = entry.id
        other = Contact(display_name="Другой")
        session.add(other)
        await session.flush()
        foreign = Interaction(contact_id=other.id, kind="note", summary="чужое")
        session.add(foreign)
        await session.commit()
    client = await app_for("op101")
    base = f"/api/v1/clients/{setup.ivan}/timeline"

    # the task follows the call, the deal change follows the task: a chain
    response = await client.patch(
        f"{base}/{entries['task']}", json={"previous_interaction_id": entries["call"]}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["entry"]["follows"]["id"] == entries["call"]
    page = await client.post(
        f"/clients/{setup.ivan}/entries/{entries['deal_change']}/follows",
        data={"previous_interaction_id": str(entries["task"])},
        allow_redirects=False,
    )
    assert page.status == 303
    # never to a later entry, itself, another client's entry, or another client's own
    for entry, previous in [
        (entries["call"], entries["task"]),
        (entries["task"], entries["task"]),
        (entries["task"], foreign.id),
    ]:
        response = await client.patch(f"{base}/{entry}", json={"previous_interaction_id": previous})
        assert response.status == 400
        assert list((await response.json())["fields"]) == ["previous_interaction_id"]
    response = await client.patch(
        f"/api/v1/clients/{setup.ivan}/timeline/{foreign.id}",
        json={"previous_interaction_id": None},
    )
    assert response.status == 400
    async with db() as session:
        links = dict(
            (
                await session.execute(
                    select(Interaction.id, Interaction.previous_interaction_id).where(
                        Interaction.id.in_([*entries.values(), foreign.id])
                    )
                )
            ).all()
        )
    assert links == {
        entries["call"]: None,
        entries["task"]: entries["call"],
        entries["deal_change"]: entries["task"],
        foreign.id: None,
    }
    # unlinking: null
    response = await client.patch(
        f"{base}/{entries['deal_change']}", json={"previous_interaction_id": None}
    )
    assert (await response.json())["entry"]["follows"] is None


async def test_the_timeline_is_newest_first_and_pages_by_keyset(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        # T0 holds make_world's note; the same moment twice is ordered by id
        for minutes, text in [(30, "третья"), (10, "первая"), (20, "вторая"), (20, "вторая-б")]:
            session.add(
                Interaction(
                    contact_id=setup.ivan,
                    kind="note",
                    occurred_at=T0 + timedelta(minutes=minutes),
                    summary=text,
                )
            )
        await session.commit()
    client = await app_for("op101")
    url = f"/api/v1/clients/{setup.ivan}/timeline"
    seen: list[str] = []
    before = None
    for _ in range(5):
        query = "?limit=2" + (f"&before={before}" if before else "")
        page = await (await client.get(url + query)).json()
        seen += [e["summary"] for e in page["entries"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == ["третья", "вторая-б", "вторая", "первая", "Просил счёт"]
    assert (await client.get(url + "?before=abc")).status == 400


async def test_merge_moves_everything_and_the_duplicate_forwards(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        ivan = await session.get(Contact, setup.ivan)
        assert ivan is not None
        ivan.tags = ["vip"]
        session.add(ContactEmail(contact_id=ivan.id, email="ivan@romashka.ru"))
        duplicate = Contact(
            first_name="Иван",
            last_name="Петров",
            company_id=ivan.company_id,
            position="Директор",
            tags=["опт", "vip"],
            custom_fields={"inn": "7701"},
        )
        session.add(duplicate)
        await session.flush()
        stage = await session.scalar(
            select(PipelineStage).where(PipelineStage.name == "Переговоры")
        )
        assert stage is not None
        session.add_all(
            [
                # the same number under another country code: one phone, two cards
                ContactPhone(contact_id=duplicate.id, raw="+7 495", e164="+994951234567"),
                ContactEmail(contact_id=duplicate.id, email="ivan+shop@romashka.ru"),
                Interaction(contact_id=duplicate.id, kind="note", summary="из дубля"),
                Task(title="Позвонить дублю", contact_id=duplicate.id),
                Deal(contact_id=duplicate.id, title="Сделка дубля", stage_id=stage.id),
                Call(
                    linkedid="dup.1",
                    direction="inbound",
                    started_at=T0,
                    contact_id=duplicate.id,
                    result="answered",
                ),
            ]
        )
        await session.commit()
        duplicate_id = duplicate.id
        candidates = await duplicate_candidates(session, setup.ivan)
    assert [(c.contact_id, set(c.reasons)) for c in candidates] == [
        (duplicate_id, {"phone", "email", "name"})
    ]

    operator = await app_for("op101")
    url = f"/api/v1/clients/{setup.ivan}/merge"
    assert (await operator.post(url, json={"duplicate_id": duplicate_id})).status == 403
    boss = await app_for("boss")
    response = await boss.post(url, json={"duplicate_id": setup.ivan})
    assert response.status == 400
    response = await boss.post(url, json={"duplicate_id": duplicate_id})
    assert response.status == 200, await response.text()
    card = (await response.json())["client"]
    assert [p["e164"] for p in card["phones"]] == ["+74951234567", "+994951234567"]
    assert card["emails"] == ["ivan@romashka.ru", "ivan+shop@romashka.ru"]
    assert card["tags"] == ["vip", "опт"]
    assert card["position"] == "Директор"  # Иван had none
    assert [d["title"] for d in card["deals"]] == ["Сделка дубля", "Поставка окон"]
    assert {t["title"] for t in card["open_tasks"]} == {"Отправить КП", "Позвонить дублю"}

    async with db() as session:
        for model in (ContactPhone, ContactEmail, Interaction, Task, Deal, Call):
            left = await session.scalar(
                select(func.count()).select_from(model).where(model.contact_id == duplicate_id)  # type: ignore[attr-defined]
            )
            assert left == 0, model
        gone = await session.get(Contact, duplicate_id)
        assert gone is not None and gone.merged_into_id == setup.ivan
        merge_audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "contact.merge")
        )
        assert merge_audit is not None and merge_audit.details == {"duplicate_id": duplicate_id}
        hits = await search_clients(session, "Петров", region="RU")
        assert [h.contact_id for h in hits] == [setup.ivan]
    timeline = (await (await boss.get(f"/api/v1/clients/{setup.ivan}/timeline")).json())["entries"]
    merged = [e for e in timeline if e["payload"].get("event") == "merge"]
    assert [e["author"] for e in merged] == ["Ольга Босс"]
    assert "из дубля" in [e["summary"] for e in timeline]

    # the duplicate's card forwards (the API's too); merging it again is refused
    forwarded = await (await boss.get(f"/api/v1/clients/{duplicate_id}")).json()
    assert forwarded["client"]["id"] == setup.ivan
    response = await boss.get(f"/clients/{duplicate_id}", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, f"/clients/{setup.ivan}")
    response = await boss.post(url, json={"duplicate_id": duplicate_id})
    assert (await response.json())["fields"] == {
        "duplicate_id": "Already merged into another client."
    }


async def test_reading_a_card_is_audited_and_other_managers_clients_are_refused(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    anna = await app_for("op101")
    response = await anna.get(f"/clients/{setup.ivan}")
    assert response.status == 200
    html = await response.text()
    assert 'data-dial="+74951234567"' in html
    assert f'href="/tasks/new?contact_id={setup.ivan}"' in html
    assert f'href="/deals/new?contact_id={setup.ivan}"' in html
    assert (await anna.get(f"/api/v1/clients/{setup.ivan}")).status == 200
    async with db() as session:
        reads = list(
            await session.execute(
                select(AuditEntry.actor_id, AuditEntry.entity_id, AuditEntry.ip).where(
                    AuditEntry.action == "contact.read"
                )
            )
        )
        assert [(a, e, str(ip)) for a, e, ip in reads] == [
            (setup.operators["101"], str(setup.ivan), "127.0.0.1")
        ] * 2
        await center_settings.save(session, "operators_see_own_clients_only", True, setup.boss)
        await session.commit()
    # Иван is Дмитрий's client
    assert (await anna.get(f"/clients/{setup.ivan}")).status == 403
    assert (await anna.patch(f"/api/v1/clients/{setup.ivan}", json={"tags": []})).status == 403
    dmitry = await app_for("op102")
    assert (await dmitry.get(f"/clients/{setup.ivan}")).status == 200
    assert (await anna.get("/clients/999999")).status == 404


async def test_a_hostile_name_is_shown_as_text(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    client = await app_for("op101")
    response = await client.post(
        "/clients/new",
        data={"display_name": HOSTILE, "tags": HOSTILE[:40], "status": "lead"},
        allow_redirects=False,
    )
    assert response.status == 303
    html = await (await client.get(response.headers["Location"])).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


async def test_recordings_play_for_leaders_and_the_operator_who_answered(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    folder = setup.data_dir / "recordings"
    folder.mkdir(parents=True)
    (folder / "2026").mkdir()
    (folder / "2026" / "call.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    (setup.data_dir / "secret.wav").write_bytes(b"not yours")
    async with db() as session:
        calls = {
            name: Call(
                linkedid=name,
                direction="inbound",
                started_at=T0,
                contact_id=setup.ivan,
                answered_by_id=setup.operators["101"],
                result="answered",
                recording_path=path,
            )
            for name, path in [
                ("own", "2026/call.wav"),
                ("outside", "../secret.wav"),
                ("absolute", str(setup.data_dir / "secret.wav")),
                ("missing", "2026/none.wav"),
            ]
        }
        session.add_all(calls.values())
        await session.flush()
        session.add(
            Interaction(contact_id=setup.ivan, kind="call", call_id=calls["own"].id, occurred_at=T0)
        )
        await session.commit()
    ids = {name: call.id for name, call in calls.items()}
    own = f"/calls/{ids['own']}/recording"

    dmitry = await app_for("op102")
    assert (await dmitry.get(own)).status == 403
    # a listener who never asks for the first byte is audited all the same
    sly = await app_for("boss")
    response = await sly.get(own, headers={"Range": "bytes=1-"})
    assert response.status == 206
    async with db() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "recording.play", AuditEntry.actor_id == setup.boss
            )
        )
    assert audited == 1
    anna = await app_for("op101")
    response = await anna.get(own)
    assert response.status == 200
    assert (await response.read())[:4] == b"RIFF"
    response = await anna.get(own, headers={"Range": "bytes=4-7"})
    assert response.status == 206
    assert await response.read() == bytes(range(4))
    assert response.headers["Content-Range"] == "bytes 4-7/1028"
    boss = await app_for("boss")
    assert (await boss.get(own)).status == 200  # the same listening: no second entry
    for name in ("outside", "absolute"):
        assert (await boss.get(f"/calls/{ids[name]}/recording")).status == 403, name
    assert (await boss.get(f"/calls/{ids['missing']}/recording")).status == 404
    async with db() as session:
        plays = list(
            await session.execute(
                select(AuditEntry.actor_id, AuditEntry.entity_id).where(
                    AuditEntry.action == "recording.play"
                )
            )
        )
    # a seek (Range from the middle) is part of the same listening
    assert sorted(plays) == sorted(
        [(setup.operators["101"], str(ids["own"])), (setup.boss, str(ids["own"]))]
    )
    # the card links the recording for those who may play it
    timeline = (await (await boss.get(f"/api/v1/clients/{setup.ivan}")).json())["timeline"]
    calls_shown = [e["call"] for e in timeline["entries"] if e["kind"] == "call"]
    assert [c["recording_url"] for c in calls_shown] == [own]
    assert f'href="{own}"' in await (await anna.get(f"/clients/{setup.ivan}")).text()
    assert f'href="{own}"' not in await (await dmitry.get(f"/clients/{setup.ivan}")).text()
    assert recording_file(folder, "../secret.wav") is None
    assert recording_file(folder, "2026/call.wav") == (folder / "2026" / "call.wav").resolve()


async def test_the_edit_and_merge_pages_work_as_plain_forms(
    db: async_sessionmaker[AsyncSession], setup: Setup, app_for: Any
) -> None:
    async with db() as session:
        session.add(
            CustomFieldDefinition(
                entity="contact", key="wholesale", label_ru="Оптовик", value_type="bool"
            )
        )
        ivan = await session.get(Contact, setup.ivan)
        assert ivan is not None
        twin = Contact(first_name="Иван", last_name="Петров", company_id=ivan.company_id)
        session.add(twin)
        await session.commit()
        twin_id = twin.id
    anna = await app_for("op101")
    form = await (await anna.get(f"/clients/{setup.ivan}/edit")).text()
    assert 'value="Петров"' in form and "8 (495) 123-45-67" in form and "Оптовик" in form
    response = await anna.post(
        f"/clients/{setup.ivan}/edit",
        data={
            "last_name": "Петров",
            "first_name": "Иван",
            "company": "ООО «Ромашка»",
            "phones": "8 (495) 123-45-67\n+7 916 555-44-33",
            "emails": "не-адрес",
            "status": "client",
            "cf_wholesale": "on",
        },
        allow_redirects=False,
    )
    assert response.status == 400
    page = await response.text()
    assert "не-адрес — не адрес e-mail." in page
    assert "+7 916 555-44-33" in page  # what was typed is shown again, not lost
    response = await anna.post(
        f"/clients/{setup.ivan}/edit",
        data={
            "last_name": "Петров",
            "first_name": "Иван",
            "company": "ООО «Ромашка»",
            "phones": "8 (495) 123-45-67\n+7 916 555-44-33",
            "status": "client",
            "cf_wholesale": "on",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    async with db() as session:
        ivan = await session.get(Contact, setup.ivan)
        assert ivan is not None
        assert ivan.custom_fields == {"wholesale": True}
        company = await session.get(Company, ivan.company_id)
        assert company is not None and company.name == "ООО «Ромашка»"
        phones = await session.scalars(
            select(ContactPhone.e164).where(ContactPhone.contact_id == setup.ivan)
        )
        assert sorted(phones) == ["+74951234567", "+79165554433"]

    assert (await anna.get(f"/clients/{setup.ivan}/duplicates")).status == 403
    boss = await app_for("boss")
    page = await (await boss.get(f"/clients/{setup.ivan}/duplicates")).text()
    assert f'data-contact-id="{twin_id}"' in page
    async with db() as session:
        read = await session.scalars(
            select(AuditEntry.entity_id).where(
                AuditEntry.action == "contact.read",
                AuditEntry.actor_id == setup.boss,
                AuditEntry.details["part"].astext == "duplicates",
            )
        )
        assert sorted(read) == sorted([str(setup.ivan), str(twin_id)])
    response = await boss.post(
        f"/clients/{setup.ivan}/merge", data={"duplicate_id": "abc"}, allow_redirects=False
    )
    assert response.status == 400
    response = await boss.post(
        f"/clients/{setup.ivan}/merge", data={"duplicate_id": str(twin_id)}, allow_redirects=False
    )
    assert (response.status, response.headers["Location"]) == (303, f"/clients/{setup.ivan}")
    async with db() as session:
        twin_after = await session.get(Contact, twin_id)
        assert twin_after is not None and twin_after.merged_into_id == setup.ivan
