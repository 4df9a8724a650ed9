"""Client search latency on a big client base (default 1,000,000 contacts, 2,000,000 phones).

Starts a throw-away embedded PostgreSQL (or uses CALLCENTER_TEST_DATABASE_URL's
server), migrates, and fills it with people named as Russians are (``russian_names``:
common surnames at their real frequencies, a long tail of rare ones, feminine forms,
patronymics), a company for most of them, 50 operators managing 80% of the clients,
two mobile numbers each and an e-mail for every other one. Then times ``search_clients``
as the ``/clients`` page calls it, with queries drawn from the clients themselves (so a
common surname is searched as often as it occurs): a phone fragment (seven digits from
the middle of a number), a number's start typed with the trunk prefix (``8 9XX XXX``),
the start of a surname (``смир``), a piece of a name (``ихайл``, ``овна``), a surname
with a first name or its initial (``Смирнова Е``), and the start of a surname among one
operator's own clients.
The search indexes are dropped for the fill and rebuilt after it, as a bulk load would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from sqlalchemy import text

from bench.callerid_lookup import _summary
from bench.russian_names import People
from bench.scratch import migrated_database, scratch_server
from callcenter import database
from callcenter.client_search import search_clients

OPERATORS = 50
# every index client search reads, except the unique ones (the fill keeps those)
_SEARCH_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
 WHERE tablename IN ('contacts', 'companies', 'contact_phones', 'contact_emails')
   AND indexdef NOT LIKE 'CREATE UNIQUE%'
"""
_OPERATORS = """
INSERT INTO users (login, full_name, password_hash, role)
SELECT 'op' || g, 'Оператор ' || g, '-', 'operator' FROM generate_series(1, :count) g
"""
# two mobile numbers per contact: +7 9XX ... derived from the contact id
_PHONES = """
INSERT INTO contact_phones (contact_id, raw, e164)
SELECT c.id, '8 (9' || lpad((c.id * 2 + k)::text, 9, '0') || ')',
       '+79' || lpad((c.id * 2 + k)::text, 9, '0')
  FROM contacts c CROSS JOIN (VALUES (0), (1)) AS k(k)
"""
_EMAILS = """
INSERT INTO contact_emails (contact_id, email)
SELECT id, 'client' || id || '@example.ru' FROM contacts WHERE id % 2 = 0
"""
_CONTACT_COLUMNS = (
    "id",
    "last_name",
    "first_name",
    "middle_name",
    "display_name",
    "company_id",
    "manager_id",
    "status",
)
BATCH = 50_000


def _people(contacts: int, companies: list[str], operators: list[int]) -> list[tuple[Any, ...]]:
    people = People(seed=7)
    rng = random.Random(11)
    rows = []
    for contact_id in range(1, contacts + 1):
        company = rng.randrange(len(companies)) if rng.random() < 0.6 else None
        person = people.person(companies[company] if company is not None else None)
        manager = rng.choice(operators) if rng.random() < 0.8 else None
        rows.append(
            (
                contact_id,
                person.last_name,
                person.first_name,
                person.middle_name,
                person.display_name,
                None if company is None else company + 1,
                manager,
                "client" if rng.random() < 0.3 else "lead",
            )
        )
    return rows


async def _fill(url: str, contacts: int) -> list[tuple[Any, ...]]:
    """Fills the base; returns the contacts as stored, to draw queries from."""
    engine = database.make_engine(url)
    people = People(seed=3)
    companies = [people.company() for _ in range(max(1, contacts // 20))]
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_OPERATORS), {"count": OPERATORS})
            operators = list((await conn.scalars(text("SELECT id FROM users"))).all())
            rows = _people(contacts, companies, operators)
            raw = await conn.get_raw_connection()
            pg: Any = raw.driver_connection
            await pg.copy_records_to_table(
                "companies", records=[(n,) for n in companies], columns=("name",)
            )
            for start in range(0, len(rows), BATCH):
                await pg.copy_records_to_table(
                    "contacts", records=rows[start : start + BATCH], columns=_CONTACT_COLUMNS
                )
            await conn.execute(text("SELECT setval('contacts_id_seq', :n)"), {"n": contacts})
            await conn.execute(text(_PHONES))
            await conn.execute(text(_EMAILS))
    finally:
        await engine.dispose()
    return rows


async def _load(url: str, contacts: int) -> tuple[dict[str, float], list[tuple[Any, ...]]]:
    engine = database.make_engine(url)
    try:
        async with engine.begin() as conn:
            indexes = (await conn.execute(text(_SEARCH_INDEXES))).all()
            for name, _ in indexes:
                await conn.execute(text(f"DROP INDEX {name}"))
        started = time.perf_counter()
        rows = await _fill(url, contacts)
        fill = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text("SET maintenance_work_mem = '512MB'"))
            for _, definition in indexes:
                await conn.execute(text(definition))
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return {
        "fill_seconds": round(fill, 1),
        "index_seconds": round(time.perf_counter() - started, 1),
    }, rows


def _queries(rows: list[tuple[Any, ...]], count: int) -> dict[str, list[tuple[str, int | None]]]:
    """(query, only this manager's clients) of each kind, drawn from the stored clients."""
    rng = random.Random(7)
    contacts = len(rows)
    # phones of contact c are +79 followed by lpad(c * 2 + k, 9)
    numbers = [f"9{(rng.randrange(1, contacts) * 2):09d}" for _ in range(count)]
    named = [r for r in (rng.choice(rows) for _ in range(count * 4)) if r[1]][: count * 2]
    surnames = [r[1] for r in named]

    def piece(row: tuple[Any, ...]) -> str:
        word = rng.choice([w for w in row[1:4] if w])
        size = rng.randint(3, 6)
        start = rng.randrange(max(1, len(word) - size + 1))
        return str(word[start : start + size])

    def full(row: tuple[Any, ...]) -> str:
        first = row[2] or ""
        whole = " ".join(w for w in row[1:4] if w)
        return rng.choice([f"{row[1]} {first}", f"{row[1]} {first[:1]}", whole])

    def case(query: str) -> str:
        return query.lower() if rng.random() < 0.5 else query

    full_names: list[tuple[str, int | None]] = [(case(full(r)), None) for r in named if r[2]]
    return {
        "phone_fragment": [(n[3:10], None) for n in numbers],
        "phone_start_8": [(f"8 {n[:3]} {n[3:6]}", None) for n in numbers],
        "name_start": [(case(s[: rng.randint(3, len(s))]), None) for s in surnames[:count]],
        "name_fragment": [(case(piece(r)), None) for r in named[:count]],
        "surname_and_name": full_names[-count:],
        "name_start_own_clients": [
            (case(s[: rng.randint(3, len(s))]), rng.choice(rows)[6] or 1) for s in surnames[count:]
        ][:count],
    }


async def _measure(url: str, rows: list[tuple[Any, ...]], count: int) -> dict[str, Any]:
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    figures: dict[str, Any] = {}
    try:
        async with db() as session:
            for kind, queries in _queries(rows, count).items():
                for query, manager in queries[:20]:  # warm the cache and the connection
                    await search_clients(session, query, region="RU", only_manager_id=manager)
                timings = []
                empty = 0
                slowest = (0.0, "")
                for query, manager in queries:
                    started = time.perf_counter()
                    hits = await search_clients(
                        session, query, region="RU", only_manager_id=manager
                    )
                    took = time.perf_counter() - started
                    timings.append(took)
                    slowest = max(slowest, (took, query))
                    empty += not hits
                figures[kind] = {
                    **_summary(timings),
                    "queries": len(queries),
                    "empty": empty,
                    "slowest": slowest[1],
                }
    finally:
        await engine.dispose()
    return figures


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench contact_search")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="of each kind")
    args = parser.parse_args(argv)
    with scratch_server() as server, migrated_database(server, "cc_bench_search") as url:
        load, rows = asyncio.run(_load(url, args.contacts))
        figures = asyncio.run(_measure(url, rows, args.queries))
    return {
        "parameters": {
            "contacts": args.contacts,
            "phones": args.contacts * 2,
            "emails": args.contacts // 2,
            "queries": args.queries,
        },
        **load,
        **figures,
        "target": {"p99_ms": 50.0},
    }
