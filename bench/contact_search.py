"""Client search latency on a big client base (default 1,000,000 contacts, 2,000,000 phones).

Starts a throw-away embedded PostgreSQL (or uses CALLCENTER_TEST_DATABASE_URL's
server), migrates, fills it like ``callerid_lookup`` (plus an e-mail for every other
contact), then times ``search_clients`` as the ``/clients`` page calls it: phone
fragments (seven digits from the middle of a number, and a number's start typed with
the trunk prefix, ``8 9XX XXX``) and name fragments (``фамилия12345``, ``Имя1234``).
The trigram indexes are dropped for the fill and rebuilt after it, as a bulk load would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from sqlalchemy import text

from bench.callerid_lookup import _fill, _summary
from bench.scratch import migrated_database, scratch_server
from callcenter import database
from callcenter.client_search import search_clients

_TRIGRAM_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%\\_trgm'"
_EMAILS = """INSERT INTO contact_emails (contact_id, email)
             SELECT id, 'client' || id || '@example.ru' FROM contacts WHERE id % 2 = 0"""


async def _load(url: str, contacts: int) -> dict[str, float]:
    engine = database.make_engine(url)
    try:
        async with engine.begin() as conn:
            indexes = (await conn.execute(text(_TRIGRAM_INDEXES))).all()
            for name, _ in indexes:
                await conn.execute(text(f"DROP INDEX {name}"))
        fill = await _fill(url, contacts)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text(_EMAILS))
            await conn.execute(text("SET maintenance_work_mem = '512MB'"))
            for _, definition in indexes:
                await conn.execute(text(definition))
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return {
        "fill_seconds": round(fill, 1),
        "index_seconds": round(time.perf_counter() - started, 1),
    }


def _queries(contacts: int, count: int) -> dict[str, list[str]]:
    rng = random.Random(7)
    # phones of contact c are +79 followed by lpad(c * 2 + k, 9)
    numbers = [f"9{(rng.randrange(1, contacts) * 2):09d}" for _ in range(count)]
    return {
        "phone_fragment": [n[3:10] for n in numbers],
        "phone_start_8": [f"8 {n[:3]} {n[3:6]}" for n in numbers],
        "name_fragment": [
            rng.choice(["фамилия", "Имя"]) + str(rng.randrange(1, contacts))[:5]
            for _ in range(count)
        ],
    }


async def _measure(url: str, contacts: int, count: int) -> dict[str, Any]:
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    figures: dict[str, Any] = {}
    try:
        async with db() as session:
            for kind, queries in _queries(contacts, count).items():
                for query in queries[:20]:  # warm the cache and the connection
                    await search_clients(session, query, region="RU")
                timings = []
                empty = 0
                for query in queries:
                    started = time.perf_counter()
                    hits = await search_clients(session, query, region="RU")
                    timings.append(time.perf_counter() - started)
                    empty += not hits
                figures[kind] = {**_summary(timings), "queries": len(queries), "empty": empty}
    finally:
        await engine.dispose()
    return figures


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench contact_search")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="of each kind")
    args = parser.parse_args(argv)
    with scratch_server() as server, migrated_database(server, "cc_bench_search") as url:
        load = asyncio.run(_load(url, args.contacts))
        figures = asyncio.run(_measure(url, args.contacts, args.queries))
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
