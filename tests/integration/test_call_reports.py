"""Call reports count each call once, and the hourly totals agree with the calls.

A random mess of calls is written the way the call log writes them (inserted in
progress, updated as they are answered and end, some re-assigned, some deleted); each
report's figures are then compared with a count made here in Python from what was
written, and the totals path with the path that reads the calls themselves.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.call_reports import Dimension, abandon_rate, call_report
from callcenter.models import Call, CallHourTotal, Campaign, OperatorHourTotal
from callcenter.report_period import Bucket, ReportPeriod, parse_period
from callcenter.users import add_user

pytestmark = pytest.mark.db

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 10)
RESULTS = ("answered", "abandoned", "missed", "busy", "no_answer", "failed")


async def _floor(db: async_sessionmaker[AsyncSession]) -> tuple[list[int], list[int]]:
    async with db() as session:
        users = [
            (
                await add_user(
                    session,
                    login=f"op{n}",
                    full_name=f"Оператор {n}",
                    role="operator",
                    password="correct-horse",
                    extension=f"10{n}",
                    device=f"PJSIP/op10{n}",
                )
            ).id
            for n in range(3)
        ]
        campaigns = [Campaign(name=f"Обзвон {n}", mode="progressive") for n in range(2)]
        session.add_all(campaigns)
        await session.flush()
        ids = [c.id for c in campaigns]
        await session.commit()
    return users, ids


def _call(n: int, rng: random.Random, users: list[int], campaigns: list[int]) -> dict:
    start = datetime(2026, 11, 9, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 36 * 60))
    result = rng.choice(RESULTS)
    answered = result == "answered"
    wait = rng.randrange(0, 90)
    return {
        "linkedid": f"call-{n}",
        "direction": rng.choice(("inbound", "inbound", "outbound")),
        "queue_name": rng.choice(("sales", "support", None)),
        "caller_e164": f"+7495{rng.randrange(1000000, 9999999)}",
        "caller_region": rng.choice(("Москва", "Приморский край", None)),
        "answered_by_id": rng.choice(users) if answered else None,
        "campaign_id": rng.choice([*campaigns, None]),
        "started_at": start,
        "answered_at": start + timedelta(seconds=wait) if answered else None,
        "ended_at": start + timedelta(seconds=wait + 200),
        "wait_seconds": wait,
        "talk_seconds": rng.randrange(5, 600) if answered else None,
        "result": result,
    }


async def _write_the_mess(db: async_sessionmaker[AsyncSession]) -> list[dict]:
    users, campaigns = await _floor(db)
    rng = random.Random(20261204)
    calls = [_call(n, rng, users, campaigns) for n in range(400)]
    async with db() as session:
        for call in calls:
            # as the call log does: in progress first, finished later, then a late write
            first = call | {"result": "in_progress", "ended_at": None, "talk_seconds": None}
            session.add(Call(**first))
        await session.flush()
        for call in calls:
            await session.execute(
                update(Call).where(Call.linkedid == call["linkedid"]).values(**call)
            )
        for call in rng.sample(calls, 40):  # the operator's result and note: no change
            await session.execute(
                update(Call).where(Call.linkedid == call["linkedid"]).values(note="перезвонить")
            )
        for call in rng.sample([c for c in calls if c["answered_by_id"]], 20):
            call["answered_by_id"] = rng.choice(users)  # reconciled: another operator
            call["talk_seconds"] += 1
            await session.execute(
                update(Call)
                .where(Call.linkedid == call["linkedid"])
                .values(answered_by_id=call["answered_by_id"], talk_seconds=call["talk_seconds"])
            )
        gone = rng.sample(calls, 15)
        await session.execute(delete(Call).where(Call.linkedid.in_([c["linkedid"] for c in gone])))
        still = [_call(1000 + n, rng, users, campaigns) for n in range(5)]
        session.add_all(Call(**(c | {"result": "in_progress"})) for c in still)
        await session.commit()
    return [c for c in calls if c not in gone]


def _period(first: date, last: date, bucket: Bucket = Bucket.DAY, zone: ZoneInfo = MOSCOW):
    return ReportPeriod(first, last, bucket, zone)


def _in(period: ReportPeriod, calls: list[dict]) -> list[dict]:
    return [c for c in calls if period.start <= c["started_at"] < period.end]


async def test_each_report_counts_every_finished_call_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    calls = await _write_the_mess(db)
    period = _period(DAY, DAY)
    inside = _in(period, calls)
    assert 100 < len(inside) < len(calls)  # the edges of the day cut some off
    async with db() as session:
        for dimension in Dimension:
            report = await call_report(session, dimension, period)
            assert report.totals.calls == len(inside), dimension
            assert report.totals.answered == sum(c["result"] == "answered" for c in inside)
            assert report.totals.missed == sum(
                c["result"] in ("abandoned", "missed") for c in inside
            )
            assert report.totals.talk_seconds == sum(c["talk_seconds"] or 0 for c in inside)
        by_operator = await call_report(session, Dimension.OPERATOR, period)
        expected = Counter(c["answered_by_id"] for c in inside)
        assert {r.key: r.figures.calls for r in by_operator.rows} == {
            ("" if k is None else str(k)): v for k, v in expected.items()
        }
        assert all(r.label and r.label.startswith("Оператор") for r in by_operator.rows if r.key)
        by_region = await call_report(session, Dimension.REGION, period, direction="inbound")
        expected = Counter(c["caller_region"] for c in inside if c["direction"] == "inbound")
        assert {r.label: r.figures.calls for r in by_region.rows} == dict(expected)


async def _totals_and_calls(
    session: AsyncSession, table: type[CallHourTotal | OperatorHourTotal]
) -> tuple[dict[tuple[Any, ...], tuple[int, int]], dict[tuple[Any, ...], tuple[int, int]]]:
    names = ["direction", "result", "queue_name", "campaign_id"]
    if table is OperatorHourTotal:
        names.append("answered_by_id")
    key = (func.date_trunc("hour", Call.started_at), *(getattr(Call, n) for n in names))
    counted = select(*key, func.count(), func.coalesce(func.sum(Call.talk_seconds), 0)).where(
        Call.result != "in_progress"
    )
    if table is OperatorHourTotal:
        counted = counted.where(Call.answered_by_id.is_not(None))
    from_calls = {
        tuple(row[:-2]): (row[-2], row[-1]) for row in await session.execute(counted.group_by(*key))
    }
    totals = {
        (t.hour, *(getattr(t, n) for n in names)): (t.calls, t.talk_seconds)
        for t in await session.scalars(select(table).where(table.calls != 0))
    }
    return totals, from_calls


async def test_the_hourly_totals_equal_the_calls_after_every_change(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await _write_the_mess(db)
    async with db() as session:
        await session.execute(text("SET TIME ZONE 'UTC'"))
        for table in (CallHourTotal, OperatorHourTotal):
            totals, from_calls = await _totals_and_calls(session, table)
            assert totals == from_calls, table
            assert len(totals) > 50
        # a rebuild from scratch gives the same tables
        before = [await _totals_and_calls(session, t) for t in (CallHourTotal, OperatorHourTotal)]
        await session.execute(text("SELECT rebuild_call_hour_totals()"))
        after = [await _totals_and_calls(session, t) for t in (CallHourTotal, OperatorHourTotal)]
        assert after == before


async def test_by_period_every_bucket_is_there_and_zones_without_whole_hours_read_the_calls(
    db: async_sessionmaker[AsyncSession],
) -> None:
    calls = await _write_the_mess(db)
    async with db() as session:
        hourly = await call_report(session, Dimension.PERIOD, _period(DAY, DAY, Bucket.HOUR))
        assert len(hourly.rows) == 24
        assert hourly.rows[0].key == "2026-11-10T00:00:00"
        first_hour = _period(DAY, DAY)
        in_first = [
            c
            for c in _in(first_hour, calls)
            if c["started_at"] < first_hour.start + timedelta(hours=1)
        ]
        assert hourly.rows[0].figures.calls == len(in_first)
        # India is UTC+5:30: its days do not start on UTC hours, so the calls are counted
        kolkata = _period(DAY, DAY + timedelta(days=1), zone=ZoneInfo("Asia/Kolkata"))
        assert not kolkata.whole_hours
        report = await call_report(session, Dimension.OPERATOR, kolkata)
        assert report.totals.calls == len(_in(kolkata, calls))
        daily = await call_report(session, Dimension.PERIOD, kolkata)
        assert [r.figures.calls for r in daily.rows] == [
            len(_in(_period(d, d, zone=ZoneInfo("Asia/Kolkata")), calls))
            for d in (DAY, DAY + timedelta(days=1))
        ]


def test_a_bad_period_says_which_field_is_wrong() -> None:
    today = date(2026, 12, 4)
    with pytest.raises(ValueError) as bad:
        parse_period({"from": "2026-13-01", "group": "year"}, MOSCOW, today)
    assert set(bad.value.errors) == {"from", "group"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="to"):
        parse_period({"from": "2026-12-04", "to": "2026-12-01"}, MOSCOW, today)
    assert parse_period({}, MOSCOW, today).first_day == today


async def test_the_rolling_abandon_rate_is_exact_to_the_second(
    db: async_sessionmaker[AsyncSession],
) -> None:
    calls = await _write_the_mess(db)
    queued = [c for c in calls if c["direction"] == "inbound" and c["queue_name"]]
    base = datetime(2026, 11, 9, 21, 17, 33, tzinfo=UTC)
    async with db() as session:
        for start, end in (
            (base, base + timedelta(hours=20, minutes=5)),
            (base, base + timedelta(minutes=20)),  # inside one hour
            (base.replace(minute=0, second=0), base + timedelta(hours=30)),
        ):
            rate = await abandon_rate(session, start, end)
            inside = [c for c in queued if start <= c["started_at"] < end]
            assert rate.offered == len(inside)
            assert rate.abandoned == sum(c["result"] in ("abandoned", "missed") for c in inside)
        assert rate.offered > 50 and rate.percent is not None
