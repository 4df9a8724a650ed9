"""Calls by operator, queue, campaign, tracking number, caller's region or period.

Each call is counted once: the call log has one row per call (its Linkedid), however
many legs, queues or operators' phones it went through, and a call belongs to the
operator who answered it. Operator, queue, campaign and period come from the hourly
totals (``call_hour_totals`` and ``operator_hour_totals``, kept by a trigger), so a
year sums in milliseconds; the
tracking number and the region, which the totals do not keep, are read from the calls
themselves. A period whose edges are not whole UTC hours is read from the calls too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from callcenter.models import (
    AdChannel,
    Call,
    CallHourTotal,
    Campaign,
    OperatorHourTotal,
    TrackingNumber,
    User,
)
from callcenter.report_period import Bucket, ReportPeriod

MISSED = ("abandoned", "missed")


class Dimension(enum.StrEnum):
    OPERATOR = "operator"
    QUEUE = "queue"
    CAMPAIGN = "campaign"
    CHANNEL = "channel"
    REGION = "region"
    PERIOD = "period"


FROM_TOTALS = {Dimension.OPERATOR, Dimension.QUEUE, Dimension.CAMPAIGN, Dimension.PERIOD}


@dataclass(frozen=True)
class Figures:
    calls: int = 0
    answered: int = 0
    missed: int = 0
    talk_seconds: int = 0
    answer_wait_seconds: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: Figures) -> Figures:
        return Figures(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def unanswered(self) -> int:
        return self.calls - self.answered

    @property
    def answered_percent(self) -> float | None:
        return round(100 * self.answered / self.calls, 1) if self.calls else None

    @property
    def average_talk(self) -> int | None:
        return round(self.talk_seconds / self.answered) if self.answered else None

    @property
    def average_answer_wait(self) -> int | None:
        return round(self.answer_wait_seconds / self.answered) if self.answered else None


@dataclass(frozen=True)
class Row:
    key: str  # what the row is about, as a filter value ("" = none: not answered ...)
    label: str | None  # its name for people; None when there is none (the page says so)
    figures: Figures


@dataclass(frozen=True)
class CallReport:
    dimension: Dimension
    period: ReportPeriod
    direction: str | None
    rows: list[Row] = field(default_factory=list)

    @property
    def totals(self) -> Figures:
        total = Figures()
        for row in self.rows:
            total += row.figures
        return total


def _totals_source(
    table: type[CallHourTotal | OperatorHourTotal], period: ReportPeriod, direction: str | None
) -> Subquery:
    t = table
    statement = select(
        t.hour.label("at"),
        t.queue_name,
        t.campaign_id,
        t.result,
        t.calls,
        t.answered,
        t.talk_seconds,
        t.answer_wait_seconds,
    ).where(t.hour >= period.start, t.hour < period.end)
    if t is OperatorHourTotal:
        statement = statement.add_columns(OperatorHourTotal.answered_by_id)
    if direction:
        statement = statement.where(t.direction == direction)
    return statement.subquery("source")


def _calls_source(period: ReportPeriod, direction: str | None) -> Subquery:
    c = Call
    answered = c.answered_at.is_not(None)
    statement = select(
        c.started_at.label("at"),
        c.queue_name,
        c.answered_by_id,
        c.campaign_id,
        c.result,
        c.tracking_number_id,
        c.caller_region,
        literal(1).label("calls"),
        case((answered, 1), else_=0).label("answered"),
        func.coalesce(c.talk_seconds, 0).label("talk_seconds"),
        case((answered, func.coalesce(c.wait_seconds, 0)), else_=0).label("answer_wait_seconds"),
    ).where(c.started_at >= period.start, c.started_at < period.end, c.result != "in_progress")
    if direction:
        statement = statement.where(c.direction == direction)
    return statement.subquery("source")


def _key(dimension: Dimension, source: Subquery, period: ReportPeriod) -> ColumnElement[Any]:
    if dimension == Dimension.PERIOD:
        local = func.timezone(period.zone.key, source.c.at)
        return func.date_trunc(period.bucket.value, local)
    column = {
        Dimension.OPERATOR: "answered_by_id",
        Dimension.QUEUE: "queue_name",
        Dimension.CAMPAIGN: "campaign_id",
        Dimension.CHANNEL: "tracking_number_id",
        Dimension.REGION: "caller_region",
    }[dimension]
    return source.c[column]


async def _grouped(
    session: AsyncSession, source: Subquery, key: ColumnElement[Any] | None
) -> dict[Any, Figures]:
    """Figures per value of ``key`` (all in one, under None, without a key)."""
    figures = (
        func.sum(source.c.calls),
        func.sum(source.c.answered),
        func.coalesce(func.sum(source.c.calls).filter(source.c.result.in_(MISSED)), 0),
        func.sum(source.c.talk_seconds),
        func.sum(source.c.answer_wait_seconds),
    )
    if key is None:
        values = (await session.execute(select(*figures))).one()
        return {None: Figures(*(int(value or 0) for value in values))}
    statement = select(key.label("key"), *figures).group_by(key)
    return {
        raw: Figures(*(int(value or 0) for value in values))
        for raw, *values in await session.execute(statement)
    }


async def _by_operator_from_totals(
    session: AsyncSession, period: ReportPeriod, direction: str | None
) -> dict[Any, Figures]:
    """Each operator's answered calls, and under None the rest: every call of the
    period less those an operator answered."""
    operators = _totals_source(OperatorHourTotal, period, direction)
    found = await _grouped(session, operators, operators.c.answered_by_id)
    (everything,) = (
        await _grouped(session, _totals_source(CallHourTotal, period, direction), None)
    ).values()
    answered_by_operators = Figures()
    for figures in found.values():
        answered_by_operators += figures
    rest = everything - answered_by_operators
    if rest.calls:
        found[None] = rest
    return found


async def call_report(
    session: AsyncSession,
    dimension: Dimension,
    period: ReportPeriod,
    *,
    direction: str | None = None,
) -> CallReport:
    """The period's finished calls grouped by ``dimension``, busiest first (periods in
    order, empty ones included so a chart has no gaps)."""
    if dimension in FROM_TOTALS and period.whole_hours:
        if dimension == Dimension.OPERATOR:
            found = await _by_operator_from_totals(session, period, direction)
        else:
            source = _totals_source(CallHourTotal, period, direction)
            found = await _grouped(session, source, _key(dimension, source, period))
    else:
        source = _calls_source(period, direction)
        found = await _grouped(session, source, _key(dimension, source, period))
    labels = await _labels(session, dimension, [k for k in found if k is not None])
    if dimension == Dimension.PERIOD:
        rows = [
            Row(start.isoformat(), None, found.get(start, Figures())) for start in _buckets(period)
        ]
    else:
        rows = [
            Row("" if raw is None else str(raw), labels.get(raw), figures)
            for raw, figures in sorted(found.items(), key=lambda item: -item[1].calls)
        ]
    return CallReport(dimension, period, direction, rows)


async def _labels(session: AsyncSession, dimension: Dimension, keys: list[Any]) -> dict[Any, str]:
    if dimension in (Dimension.QUEUE, Dimension.REGION):
        return {key: key for key in keys}
    if dimension == Dimension.OPERATOR:
        names = select(User.id, User.full_name).where(User.id.in_(keys))
    elif dimension == Dimension.CAMPAIGN:
        names = select(Campaign.id, Campaign.name).where(Campaign.id.in_(keys))
    elif dimension == Dimension.CHANNEL:
        name = func.concat_ws(" · ", TrackingNumber.did_e164, AdChannel.name, TrackingNumber.label)
        names = (
            select(TrackingNumber.id, name)
            .outerjoin(AdChannel, AdChannel.id == TrackingNumber.ad_channel_id)
            .where(TrackingNumber.id.in_(keys))
        )
    else:
        return {}
    return {key: label for key, label in await session.execute(names)}


def _buckets(period: ReportPeriod) -> Iterator[datetime]:
    """The local start of every bucket of the period (naive, as date_trunc gives them)."""
    day = period.first_day
    if period.bucket == Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    elif period.bucket == Bucket.MONTH:
        day = day.replace(day=1)
    while day <= period.last_day:
        if period.bucket == Bucket.HOUR:
            for hour in range(24):
                yield datetime(day.year, day.month, day.day, hour)
            day += timedelta(days=1)
            continue
        yield datetime(day.year, day.month, day.day)
        day = _next(day, period.bucket)


def _next(day: date, bucket: Bucket) -> date:
    if bucket == Bucket.DAY:
        return day + timedelta(days=1)
    if bucket == Bucket.WEEK:
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class AbandonRate:
    offered: int  # inbound queue calls that ended
    abandoned: int  # of them, the caller gave up before an operator answered

    @property
    def percent(self) -> float | None:
        return round(100 * self.abandoned / self.offered, 2) if self.offered else None


async def abandon_rate(session: AsyncSession, start: datetime, end: datetime) -> AbandonRate:
    """Inbound queue calls abandoned in [start, end), to the second: the whole hours
    inside come from the hourly totals, the two ragged edges from the calls."""
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    if first_hour < start:
        first_hour += timedelta(hours=1)
    last_hour = max(first_hour, end.replace(minute=0, second=0, microsecond=0))
    t = CallHourTotal
    whole = select(
        func.coalesce(func.sum(t.calls), 0),
        func.coalesce(func.sum(t.calls).filter(t.result.in_(MISSED)), 0),
    ).where(
        t.direction == "inbound",
        t.queue_name.is_not(None),
        t.hour >= first_hour,
        t.hour < last_hour,
    )
    c = Call
    edges = select(func.count(), func.count().filter(c.result.in_(MISSED))).where(
        c.direction == "inbound",
        c.queue_name.is_not(None),
        c.result != "in_progress",
        ((c.started_at >= start) & (c.started_at < min(first_hour, end)))
        | ((c.started_at >= last_hour) & (c.started_at < end)),
    )
    offered, abandoned = (await session.execute(whole)).one()
    edge_offered, edge_abandoned = (await session.execute(edges)).one()
    return AbandonRate(int(offered) + int(edge_offered), int(abandoned) + int(edge_abandoned))
