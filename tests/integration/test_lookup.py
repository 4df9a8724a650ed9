"""Caller-ID lookup against a real PostgreSQL, including one that is too slow."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import lookup
from callcenter.lookup import lookup_caller
from tests.integration.cti_helpers import make_world

pytestmark = pytest.mark.db

FORMATS = [
    "8 (495) 123-45-67",
    "+7 495 1234567",
    "74951234567",
    "4951234567",
    "84951234567",
    "8/495/123-45-67",
    "+7-495-123 45 67",
]


@pytest.mark.parametrize("number", FORMATS)
async def test_every_format_finds_the_same_client(
    db: async_sessionmaker[AsyncSession], number: str
) -> None:
    world = await make_world(db)
    found = await lookup_caller(db, number, "RU", deadline=2)
    assert found.known and found.card is not None
    card = found.card
    assert card.contact_id == world.contact_id
    assert (card.name, card.company, card.manager_name) == (
        "Петров Иван",
        "ООО «Ромашка»",
        "Дмитрий Кузнецов",
    )
    assert card.status == "client"
    assert [e.summary for e in card.recent] == ["Просил счёт"]
    assert [t.title for t in card.open_tasks] == ["Отправить КП"]
    assert [(d.title, d.stage) for d in card.open_deals] == [("Поставка окон", "Переговоры")]


@pytest.mark.parametrize("number", ["84959999999", "", "anonymous", "<unknown>"])
async def test_unknown_and_anonymous_callers(
    db: async_sessionmaker[AsyncSession], number: str
) -> None:
    await make_world(db)
    found = await lookup_caller(db, number, "RU", deadline=2)
    assert not found.known and not found.timed_out


async def test_a_slow_database_does_not_hold_the_lookup_past_its_deadline(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(db)
    async with db() as blocker:
        # another transaction holds the phones table: the lookup's query has to wait
        await blocker.execute(text("LOCK TABLE contact_phones IN ACCESS EXCLUSIVE MODE"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        found = await lookup_caller(db, "84951234567", "RU", deadline=0.2)
        waited = loop.time() - started
        await blocker.rollback()
    assert found.timed_out and not found.known and found.e164 == "+74951234567"
    assert waited < 2  # generous: the point is it did not wait for the lock


async def test_a_database_that_is_away_gives_an_unknown_caller_not_an_error(
    pg_server_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callcenter import database

    engine = database.make_engine(database.with_database(pg_server_url, "no_such_database"))
    caplog.set_level(logging.WARNING, logger="callcenter.lookup")
    monkeypatch.setattr(lookup, "_outage_notice", lookup._Notice(60.0))
    try:
        found = [
            await lookup_caller(
                database.make_sessionmaker(engine), f"8495123456{i}", "RU", deadline=5
            )
            for i in range(5)
        ]
    finally:
        await engine.dispose()
    assert all(f.failed and not f.known for f in found)
    assert found[0].e164 == "+74951234560"
    # one line for the outage, not a traceback per ringing call; no caller's number in it
    (line,) = [r for r in caplog.records if r.name == "callcenter.lookup"]
    assert line.exc_info is None and "749512345" not in line.getMessage()
