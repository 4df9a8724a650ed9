"""Reports on a year of a 100-seat center: 10,000,000 calls over the last 12 months.

Starts a throw-away embedded PostgreSQL (or uses CALLCENTER_TEST_DATABASE_URL's
server), migrates, and fills ``calls`` straight in SQL: a call every ~3 s round the
clock for a year, 70% inbound to three queues (85% answered, 10% abandoned, 5% missed),
30% outbound from five campaigns (40% answered, then no answer, busy, failed), 100
operators, two million different callers' numbers. Non-unique indexes are dropped for
the fill and rebuilt after it, the hourly totals are rebuilt in one pass (the trigger
that keeps them is off during the bulk load), then VACUUM ANALYZE, as after a restore.

Then times, through the product's own functions, ``--repeat`` times each:

- ``one_day_dashboard``: a day by operator, by queue and by hour (three reports);
- ``per_operator_30_days``: the last 30 days by operator;
- ``phone_search_full_year``: a caller's calls over all the year (``find_calls``);
- ``abandon_rate_30_days``: the rolling 30-day abandon rate, to the second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.callerid_lookup import _summary
from bench.scratch import migrated_database, scratch_server
from callcenter import database
from callcenter.call_journal import CallFilter, find_calls
from callcenter.call_reports import Dimension, abandon_rate, call_report
from callcenter.models import User
from callcenter.report_period import Bucket, ReportPeriod

ZONE = ZoneInfo("Europe/Moscow")
OPERATORS = 100
NUMBERS = 2_000_000
CHUNK = 500_000

_USERS = """
INSERT INTO users (login, full_name, password_hash, role)
SELECT 'op' || g, 'Оператор ' || g, '-', 'operator' FROM generate_series(1, :count) g
"""
_CAMPAIGNS = """
INSERT INTO campaigns (name, mode) SELECT 'Обзвон ' || g, 'progressive' FROM generate_series(1, 5) g
"""
_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
 WHERE tablename = 'calls' AND indexdef NOT LIKE 'CREATE UNIQUE%'
"""
# one row per g: the draws first, then the call made of them
_FILL = """
WITH draw AS (
    SELECT g,
           CAST(:first AS timestamptz) + make_interval(secs => g * CAST(:spacing AS float8)) AS at,
           random() < 0.7 AS inbound, random() AS r, random() AS w,
           (random() * :numbers)::int AS n
      FROM generate_series(:lo, :hi - 1) g
), shaped AS (
    SELECT *,
           CASE WHEN inbound THEN
                CASE WHEN r < 0.85 THEN 'answered' WHEN r < 0.95 THEN 'abandoned' ELSE 'missed' END
           ELSE CASE WHEN r < 0.4 THEN 'answered' WHEN r < 0.7 THEN 'no_answer'
                     WHEN r < 0.85 THEN 'busy' ELSE 'failed' END
           END AS result
      FROM draw
)
INSERT INTO calls (linkedid, direction, caller_number, caller_e164, caller_region, queue_name,
                   answered_by_id, campaign_id, started_at, answered_at, ended_at,
                   wait_seconds, talk_seconds, result)
SELECT 'bench-' || g,
       CASE WHEN inbound THEN 'inbound' ELSE 'outbound' END,
       '+7495' || lpad(n::text, 7, '0'), '+7495' || lpad(n::text, 7, '0'),
       (ARRAY['Москва', 'Московская обл.', 'Санкт-Петербург', 'Приморский край',
              'Свердловская обл.', 'Россия'])[1 + n % 6],
       CASE WHEN inbound THEN (ARRAY['sales', 'support', 'vip'])[1 + g % 3] END,
       CASE WHEN result = 'answered' THEN :first_user + (n % :operators) END,
       CASE WHEN NOT inbound THEN :first_campaign + g % 5 END,
       at,
       CASE WHEN result = 'answered' THEN at + make_interval(secs => (w * 40)::int) END,
       at + make_interval(secs => (w * 40)::int + CASE WHEN result = 'answered'
                                                  THEN 30 + (r * 400)::int ELSE 0 END),
       (w * 40)::int,
       CASE WHEN result = 'answered' THEN 30 + (r * 400)::int END,
       result
  FROM shaped
"""


async def _load(url: str, calls: int, now: datetime) -> dict[str, float]:
    engine = database.make_engine(url)
    first = now - timedelta(days=365)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_USERS), {"count": OPERATORS})
            await conn.execute(text(_CAMPAIGNS))
            first_user = await conn.scalar(text("SELECT min(id) FROM users"))
            first_campaign = await conn.scalar(text("SELECT min(id) FROM campaigns"))
            indexes = (await conn.execute(text(_INDEXES))).all()
            for name, _ in indexes:
                await conn.execute(text(f"DROP INDEX {name}"))
            await conn.execute(text("ALTER TABLE calls DISABLE TRIGGER calls_count_in_hour_totals"))
        started = time.perf_counter()
        for lo in range(0, calls, CHUNK):
            async with engine.begin() as conn:
                await conn.execute(text("SELECT setseed(:s)"), {"s": lo / calls})
                await conn.execute(
                    text(_FILL),
                    {
                        "first": first,
                        "spacing": 365 * 86400 / calls,
                        "numbers": NUMBERS - 1,
                        "lo": lo,
                        "hi": min(calls, lo + CHUNK),
                        "first_user": first_user,
                        "operators": OPERATORS,
                        "first_campaign": first_campaign,
                    },
                )
        fill = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text("SET maintenance_work_mem = '512MB'"))
            for _, definition in indexes:
                await conn.execute(text(definition))
        index = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text("SELECT rebuild_call_hour_totals()"))
            await conn.execute(text("ALTER TABLE calls ENABLE TRIGGER calls_count_in_hour_totals"))
            totals = await conn.scalar(text("SELECT count(*) FROM call_hour_totals"))
        rebuild = time.perf_counter() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE calls"))
            await conn.execute(text("VACUUM ANALYZE call_hour_totals"))
    finally:
        await engine.dispose()
    return {
        "fill_seconds": round(fill, 1),
        "index_seconds": round(index, 1),
        "totals_rebuild_seconds": round(rebuild, 1),
        "hour_total_rows": int(totals or 0),
    }


async def _timed(repeat: int, job: Any) -> dict[str, float]:
    for _ in range(3):  # warm the cache and the connection
        await job()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        await job()
        timings.append(time.perf_counter() - started)
    return _summary(timings)


async def _measure(url: str, repeat: int, now: datetime) -> dict[str, Any]:
    engine = database.make_engine(url)
    db = database.make_sessionmaker(engine)
    rng = random.Random(5)
    today = now.astimezone(ZONE).date()
    day = today - timedelta(days=1)
    month = ReportPeriod(today - timedelta(days=29), today, Bucket.DAY, ZONE)
    viewer = User(id=0, role="supervisor", login="bench", full_name="bench")
    figures: dict[str, Any] = {}
    try:
        async with db() as session:

            async def dashboard() -> None:
                for dimension, bucket in (
                    (Dimension.OPERATOR, Bucket.DAY),
                    (Dimension.QUEUE, Bucket.DAY),
                    (Dimension.PERIOD, Bucket.HOUR),
                ):
                    await call_report(session, dimension, ReportPeriod(day, day, bucket, ZONE))

            async def per_operator() -> None:
                report = await call_report(session, Dimension.OPERATOR, month)
                figures["per_operator_30_days_calls"] = report.totals.calls

            async def phone_search() -> None:
                number = f"+7495{rng.randrange(NUMBERS):07d}"
                await find_calls(session, viewer, CallFilter(e164=number))

            async def rolling_abandon() -> None:
                end = datetime.now(UTC)
                rate = await abandon_rate(session, end - timedelta(days=30), end)
                figures["abandon_rate_30_days_percent"] = rate.percent

            figures["one_day_dashboard"] = await _timed(repeat, dashboard)
            figures["per_operator_30_days"] = await _timed(repeat, per_operator)
            figures["phone_search_full_year"] = await _timed(repeat * 5, phone_search)
            figures["abandon_rate_30_days"] = await _timed(repeat, rolling_abandon)
    finally:
        await engine.dispose()
    return figures


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench reports")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    with scratch_server() as server, migrated_database(server, "cc_bench_reports") as url:
        load = asyncio.run(_load(url, args.calls, now))
        figures = asyncio.run(_measure(url, args.repeat, now))
    return {
        "parameters": {"calls": args.calls, "operators": OPERATORS, "repeat": args.repeat},
        **load,
        **figures,
        "target_p99_ms": {
            "one_day_dashboard": 200,
            "per_operator_30_days": 1000,
            "phone_search_full_year": 100,
            "abandon_rate_30_days": 100,
        },
    }
