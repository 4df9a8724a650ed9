"""Clients get the region and time zone of their first phone on every path that adds phones,
never over what a person set; the import carries them in bulk; migration 0006 backfills."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import demo_data, web_form_sites
from callcenter.client_edit import create_client, update_client
from callcenter.client_fields import parse_client
from callcenter.client_merge import merge_contacts
from callcenter.clients import QuickClient, quick_add_client
from callcenter.contact_geography import known_places
from callcenter.csv_import import import_contacts
from callcenter.database import make_engine
from callcenter.form_errors import FormInvalid
from callcenter.migrate import upgrade
from callcenter.models import Contact, ContactEmail, ContactPhone, User
from callcenter.phone_geography import geography
from callcenter.segments import SegmentFilter, count_clients, list_clients
from callcenter.users import add_user
from callcenter.web_leads import WebLead, take_lead

pytestmark = pytest.mark.db

MOSCOW = ("Московская обл.", "Europe/Moscow")
PRIMORYE = ("Приморский край", "Asia/Vladivostok")
NOVOSIBIRSK = ("Новосибирская обл.", "Asia/Novosibirsk")


async def admin(session: AsyncSession) -> User:
    user = await add_user(
        session, login="boss", full_name="Ольга Босс", role="admin", password="correct-horse"
    )
    await session.flush()
    return user


async def place(db: async_sessionmaker[AsyncSession], contact_id: int) -> tuple[Any, Any]:
    async with db() as session:
        row = (
            await session.execute(
                select(Contact.region, Contact.time_zone).where(Contact.id == contact_id)
            )
        ).one()
        return row[0], row[1]


async def bare_contact(session: AsyncSession, name: str, *phones: str, **fields: Any) -> Contact:
    """A contact stored straight through the ORM: none of the paths that fill places."""
    contact = Contact(display_name=name, **fields)
    session.add(contact)
    await session.flush()
    for e164 in phones:
        session.add(ContactPhone(contact_id=contact.id, raw=e164, e164=e164))
    await session.flush()
    return contact


async def test_a_new_client_gets_the_place_of_the_first_phone(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        actor = await admin(session)
        body = {"display_name": "Владивосток", "phones": "8 (423) 212-34-56\n8 495 123-45-67"}
        contact = await create_client(session, parse_client(body, "RU", []), actor)
        # a person's own region stays; the zone they left empty is filled
        body = {"display_name": "Свой регион", "phones": "84232765432", "region": "Хабаровск"}
        own = await create_client(session, parse_client(body, "RU", []), actor)
        await session.commit()
    assert await place(db, contact.id) == PRIMORYE
    assert await place(db, own.id) == ("Хабаровск", "Asia/Vladivostok")


async def test_editing_fills_empty_places_and_keeps_what_a_person_set(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        actor = await admin(session)
        empty = await bare_contact(session, "Пустой")
        chosen = await bare_contact(
            session, "Выбрал сам", "+79161234567", region="Сочи", time_zone="Europe/Moscow"
        )
        await session.commit()
        await update_client(
            session, empty, parse_client({"phones": "83832123456"}, "RU", []), actor
        )
        # a new landline first in the list does not move a person's choice
        changes = parse_client({"phones": "84232123456\n+79161234567"}, "RU", [])
        await update_client(session, chosen, changes, actor)
        await session.commit()
    assert await place(db, empty.id) == NOVOSIBIRSK
    assert await place(db, chosen.id) == ("Сочи", "Europe/Moscow")

    # the form sets and clears them by hand; a zone must be a real one
    async with db() as session:
        chosen_again = await session.get(Contact, chosen.id)
        assert chosen_again is not None
        changes = parse_client({"region": "Камчатка", "time_zone": "Asia/Kamchatka"}, "RU", [])
        await update_client(session, chosen_again, changes, await session.get_one(User, actor.id))
        await session.commit()
        with pytest.raises(FormInvalid) as refused:
            parse_client({"time_zone": "Mars/Olympus"}, "RU", [])
        assert set(refused.value.problems) == {"time_zone"}
    assert await place(db, chosen.id) == ("Камчатка", "Asia/Kamchatka")


async def test_a_mobile_gives_the_country_and_no_zone(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        contact = await quick_add_client(
            session, QuickClient("Мобильный", "", "8 916 765-43-21"), "RU"
        )
        landline = await quick_add_client(
            session, QuickClient("Городской", "", "84957654321"), "RU"
        )
        await session.commit()
    assert await place(db, contact.id) == ("Россия", None)
    assert await place(db, landline.id) == MOSCOW


async def test_web_form_leads_fill_new_and_known_clients_but_never_override(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        site, _ = await web_form_sites.add_site(session, "okna.example.ru", None)
        known = await bare_contact(session, "Знакомый", region="Мой край")
        await session.commit()
        new, _ = await take_lead(
            session, site, WebLead(name="Новый", phone="84232123456", e164="+74232123456")
        )
        session.add(ContactEmail(contact_id=known.id, email="z@example.ru"))
        await session.flush()
        again, _ = await take_lead(
            session,
            site,
            WebLead(phone="84951234567", e164="+74951234567", email="z@example.ru"),
        )
        await session.commit()
    assert new.new_contact and not again.new_contact and again.contact_id == known.id
    assert await place(db, new.contact_id) == PRIMORYE
    assert await place(db, known.id) == ("Мой край", "Europe/Moscow")


async def test_a_merge_fills_the_survivor_from_the_phones_it_takes_over(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        actor = await admin(session)
        survivor = await bare_contact(session, "Остаётся")
        duplicate = await bare_contact(session, "Дубль", "+73832123456")
        kept = await bare_contact(session, "Со своим", region="Свой", time_zone="Asia/Omsk")
        other = await bare_contact(session, "Дубль 2", "+74232123456")
        await session.commit()
        await merge_contacts(session, survivor.id, duplicate.id, actor)
        await merge_contacts(session, kept.id, other.id, actor)
        await session.commit()
    assert await place(db, survivor.id) == NOVOSIBIRSK
    assert await place(db, kept.id) == ("Свой", "Asia/Omsk")


async def test_demo_clients_have_the_places_of_their_phones(
    db: async_sessionmaker[AsyncSession],
) -> None:
    passwords = {user.login: f"demo-{user.login}-pw" for user in demo_data.DEMO_USERS}
    async with db() as session:
        assert await demo_data.seed(session, passwords, contacts=30)
        await session.commit()
        firsts: dict[int, tuple[Any, Any, str]] = {}
        for contact_id, region, zone, e164 in await session.execute(
            select(Contact.id, Contact.region, Contact.time_zone, ContactPhone.e164)
            .join(ContactPhone, ContactPhone.contact_id == Contact.id)
            .order_by(ContactPhone.id)
        ):
            firsts.setdefault(contact_id, (region, zone, e164))
    rows = list(firsts.values())
    assert rows
    for region, zone, e164 in rows:
        expected = geography(e164)
        assert (region, zone) == (expected.region, expected.time_zone), e164
    assert len({region for region, _, _ in rows}) >= 2  # mobiles and landlines


CSV = (
    "ФИО;Телефон;Телефон 2\n"
    "Иванов Иван;8 (423) 212-34-56;84951234567\n"  # Vladivostok first
    "Петров Пётр;+7 423 276-54-32;\n"
    "Сидоров Олег;8 495 765-43-21;\n"
    "Кузнецова Анна;8 916 000-00-01;84232000001\n"  # a mobile first
    "Орлов Глеб;+49 30 1234567;\n"
)


async def test_the_import_fills_places_and_a_segment_finds_a_region(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")
    async with db() as session:
        await bare_contact(session, "Уже был", "+73832123456", region="Новосибирск")
        await session.commit()
    mapping = {"ФИО": "full_name", "Телефон": "phone", "Телефон 2": "phone2"}
    report = await import_contacts(db, path, mapping, region="RU")
    assert (report.created, report.rejected, report.duplicates) == (5, 0, 0)
    async with db() as session:
        places = dict(
            (name, (region, zone))
            for name, region, zone in await session.execute(
                select(Contact.last_name, Contact.region, Contact.time_zone)
            )
        )
        assert places["Иванов"] == PRIMORYE
        assert places["Петров"] == PRIMORYE
        assert places["Сидоров"] == MOSCOW
        assert places["Кузнецова"] == ("Россия", None)
        assert places["Орлов"] == ("Berlin", "Europe/Berlin")

        user = await admin(session)
        primorye = SegmentFilter.from_json({"region": "приморский край"})
        found = await list_clients(session, user, primorye)
        assert sorted(c.name for c in found) == ["Иванов Иван", "Петров Пётр"]
        by_zone = SegmentFilter.from_json({"time_zone": "Europe/Moscow"})
        assert await count_clients(session, user, by_zone) == 1
        regions, zones = await known_places(session)
        assert "Приморский край" in regions and "Новосибирск" in regions
        assert "Asia/Vladivostok" in zones and None not in zones


def run_sql(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migration_0006_backfills_from_the_first_phone(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0005")
    people = [
        ("vladivostok", None, None, ["+74232123456", "+74951234567"]),
        ("moscow", "", "", ["+74957654321"]),
        ("own", "Сочи", None, ["+73832123456"]),
        ("mobile", None, None, ["+79161234567"]),
        ("kaliningrad", None, None, ["+74012123456"]),
        ("no phone", None, None, []),
        ("all set", "Свой", "Asia/Omsk", ["+74232000000"]),
    ]
    ids = {}
    for name, region, zone, phones in people:
        ((contact_id,),) = run_sql(
            url,
            "INSERT INTO contacts (display_name, region, time_zone) VALUES (:n, :r, :z)"
            " RETURNING id",
            n=name,
            r=region,
            z=zone,
        )
        ids[name] = contact_id
        for e164 in phones:
            run_sql(
                url,
                "INSERT INTO contact_phones (contact_id, raw, e164) VALUES (:c, :e, :e)",
                c=contact_id,
                e=e164,
            )
    upgrade(url, "0006")
    stored = {
        name: (region, zone)
        for name, region, zone in run_sql(
            url, "SELECT display_name, region, time_zone FROM contacts"
        )
    }
    assert stored == {
        "vladivostok": PRIMORYE,
        "moscow": MOSCOW,
        "own": ("Сочи", "Asia/Novosibirsk"),
        "mobile": ("Россия", None),
        "kaliningrad": ("Калининградская обл.", "Europe/Kaliningrad"),
        "no phone": (None, None),
        "all set": ("Свой", "Asia/Omsk"),
    }
