"""Caller-ID lookup latency on a big client base (default 1,000,000 contacts, 2,000,000 phones).

Starts a throw-away embedded PostgreSQL (or uses CALLCENTER_TEST_DATABASE_URL's
server), migrates, fills it with generated contacts, then times lookups of random
known numbers and of unknown numbers as a caller would present them
(``8XXXXXXXXXX``): the whole client card the screen-pop carries (contact, company,
manager, newest interactions, open tasks and deals), which is one query.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

from sqlalchemy import text

from bench.scratch import migrated_database, scratch_server
from callcenter import database
from callcenter.lookup import client_card
from callcenter.phones import to_e164

FILL = [
    """INSERT INTO companies (name)
       SELECT 'Компания ' || g FROM generate_series(1, :companies) g""",
    """INSERT INTO contacts (first_name, last_name, status, company_id)
       SELECT 'Имя' || g, 'Фамилия' || g, 'client', 1 + g % :companies
       FROM generate_series(1, :contacts) g""",
    # two mobile numbers per contact: +7 9XX ... derived from the contact id
    """INSERT INTO contact_phones (contact_id, raw, e164)
       SELECT c.id, '8 (9' || lpad((c.id * 2 + k)::text, 9, '0') || ')',
              '+79' || lpad((c.id * 2 + k)::text, 9, '0')
       FROM contacts c CROSS JOIN (VALUES (0), (1)) AS k(k)""",
    """INSERT INTO interactions (contact_id, kind, occurred_at, summary)
       SELECT id, 'note', now() - (id % 365) * interval '1 day', 'Заметка ' || id
       FROM contacts WHERE id % 10 = 0""",
    "ANALYZE",
]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(_percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
    }


async def _measure(url: str, contacts: int, lookups: int) -> dict[str, Any]:
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    rng = random.Random(7)
    known = [f"89{(rng.randrange(1, contacts) * 2):09d}" for _ in range(lookups)]
    unknown = [f"8800{rng.randrange(10**7):07d}" for _ in range(lookups)]
    card_known: list[float] = []
    card_unknown: list[float] = []
    try:
        async with db() as session:
            for number in known[:200]:  # warm the cache and the connection
                await client_card(session, to_e164(number, "RU") or "")
            for number, bucket in [(n, card_known) for n in known] + [
                (n, card_unknown) for n in unknown
            ]:
                started = time.perf_counter()
                card = await client_card(session, to_e164(number, "RU") or "")
                bucket.append(time.perf_counter() - started)
                assert (card is not None) == (bucket is card_known), number
    finally:
        await engine.dispose()
    return {
        "client_card_known": _summary(card_known),
        "client_card_unknown": _summary(card_unknown),
    }


async def _fill(url: str, contacts: int) -> float:
    engine = database.make_engine(url)
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            for statement in FILL:
                params = {"contacts": contacts, "companies": max(1, contacts // 20)}
                await conn.execute(text(statement), params if ":" in statement else {})
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench callerid_lookup")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    args = parser.parse_args(argv)
    with scratch_server() as server, migrated_database(server, "cc_bench_lookup") as url:
        fill_seconds = asyncio.run(_fill(url, args.contacts))
        figures = asyncio.run(_measure(url, args.contacts, args.lookups))
    return {
        "parameters": {
            "contacts": args.contacts,
            "phones": args.contacts * 2,
            "lookups": args.lookups,
        },
        "fill_seconds": round(fill_seconds, 1),
        **figures,
        "target": {"p99_ms": 2.0},
    }
