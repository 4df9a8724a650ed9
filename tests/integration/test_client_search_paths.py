"""The branches of a name search on a real PostgreSQL: name starts read in order from the
btree, fragments inside names, companies after names, and one manager's clients only."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.client_search import _after, _by_name, search_clients
from callcenter.models import Company, Contact, ContactEmail, ContactPhone, User

pytestmark = pytest.mark.db

# not in alphabetical order, so that the order of the rows on disk is not the right one
SMIRNOVS = [f"Смирнов{suffix}" for suffix in ("ская", "а", "ский", "", "ов", "ова", "ин", "ина")]


async def add_user(session: AsyncSession, login: str) -> int:
    user = User(login=login, full_name=login.title(), password_hash="-")
    session.add(user)
    await session.flush()
    return user.id


@pytest.fixture
async def people(db: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Eight Смирнов* and a merged duplicate, other names, two companies, two managers."""
    async with db.begin() as session:
        anna, boris = await add_user(session, "anna"), await add_user(session, "boris")
        romashka = Company(name="ООО «Смирнов и партнёры»")
        lyutik = Company(name="АО «Лютик»")
        session.add_all([romashka, lyutik])
        await session.flush()
        ids: dict[str, int] = {}
        rows = [
            *(
                (
                    surname,
                    "Елена",
                    anna if i % 2 else boris,
                    romashka.id if surname == "Смирнов" else None,
                )
                for i, surname in enumerate(SMIRNOVS)
            ),
            ("Голубева", "Елена", anna, lyutik.id),
            ("Овчинников", "Пётр", boris, None),
            ("Петров", "Овидий", boris, romashka.id),  # the company holds "смирнов"
            ("Кузнецов", "Ян", anna, lyutik.id),
            ("А_Б", "Тест", None, None),  # LIKE's wildcards, literally
            ("АХБ", "Тест", None, None),
        ]
        for last, first, manager, company in rows:
            contact = Contact(
                last_name=last, first_name=first, manager_id=manager, company_id=company
            )
            session.add(contact)
            await session.flush()
            ids[last] = contact.id
        session.add(Contact(display_name="Смирнов (дубль)", merged_into_id=ids["Смирнов"]))
        golubeva = ids["Голубева"]
        session.add(ContactPhone(contact_id=golubeva, raw="8 916 000-00-01", e164="+79160000001"))
        session.add(ContactEmail(contact_id=golubeva, email="golubeva@lyutik.ru"))
    return {"ids": ids, "anna": anna, "boris": boris}


async def names(db: async_sessionmaker[AsyncSession], query: str, **kwargs: Any) -> list[str]:
    async with db() as session:
        hits = await search_clients(session, query, region="RU", **kwargs)
    return [hit.name for hit in hits]


async def test_name_starts_come_in_order_and_stop_at_the_limit(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    expected = sorted(f"{surname} Елена" for surname in SMIRNOVS)
    assert await names(db, "смир", limit=3) == expected[:3]
    async with db() as session:  # the same without the index: the order is asked for
        await session.execute(text("SET LOCAL enable_indexscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        hits = await search_clients(session, "смир", region="RU", limit=3)
    assert [hit.name for hit in hits] == expected[:3]
    assert (await names(db, "СМИРНОВ", limit=100))[:8] == expected  # the merged one is not found


async def test_fragments_inside_names_follow_the_starts_then_companies(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    async with db() as session:
        hits = await search_clients(session, "мирнов", region="RU", limit=100)
    # no name starts with "мирнов"; eight hold it; Петров is found by his company, once
    assert [h.matched_by for h in hits] == ["name"] * 8 + ["company"]
    assert hits[-1].name == "Петров Овидий"
    # Смирнов works at «Смирнов и партнёры»: listed once, as a name match
    assert [h.name for h in hits].count("Смирнов Елена") == 1


async def test_a_word_of_two_letters_matches_name_starts_only(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    assert await names(db, "ов") == ["Овчинников Пётр"]  # not Петров, Смирнов...
    assert await names(db, "ян") == []
    assert await names(db, "кузнецов ян") == ["Кузнецов Ян"]
    assert await names(db, "ецов ян") == ["Кузнецов Ян"]  # a word of 3 letters looks inside


async def test_like_wildcards_are_literal(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    assert await names(db, "а_б") == ["А_Б Тест"]
    assert await names(db, "_б тест") == ["А_Б Тест"]
    assert await names(db, "а%") == []


async def test_only_one_managers_clients(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    anna, boris = people["anna"], people["boris"]
    assert await names(db, "смирнов", only_manager_id=anna) == sorted(
        f"{s} Елена" for i, s in enumerate(SMIRNOVS) if i % 2
    )
    assert "Голубева Елена" in await names(db, "елена", only_manager_id=anna, limit=100)
    assert "Голубева Елена" not in await names(db, "елена", only_manager_id=boris, limit=100)
    assert (await names(db, "мирнов", only_manager_id=boris, limit=100))[-1] == "Петров Овидий"
    for query in ("+7 916 000", "golubeva@"):
        assert await names(db, query, only_manager_id=anna) == ["Голубева Елена"]
        assert await names(db, query, only_manager_id=boris) == []


async def test_the_start_branch_reads_the_btree(
    db: async_sessionmaker[AsyncSession], people: dict[str, Any]
) -> None:
    """The query and the index of migration 0005 name the same expression."""
    async with db() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(
            (
                await session.execute(
                    text("EXPLAIN " + _by_name(1, True)),
                    {
                        "limit": 20,
                        "manager_id": None,
                        "start": "смир%",
                        "start_from": "смир",
                        "start_to": "смис",
                        "w0": "%смир%",
                    },
                )
            ).scalars()
        )
    assert "ix_contacts_search_name_start" in plan


def test_after_is_the_first_string_past_a_prefix() -> None:
    assert _after("смир") == "смис"
    assert _after("я") == "ѐ"  # U+0450, past every "я…"
    assert _after("a" + chr(0xD7FF)) == "a" + chr(0xE000)
    assert _after("a" + chr(sys.maxunicode)) == "b"
    for prefix in ("смир", "zz", "ё"):
        after = _after(prefix)
        assert prefix < prefix + chr(sys.maxunicode) < after
