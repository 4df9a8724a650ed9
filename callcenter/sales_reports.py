"""The funnel's conversion by stage with the refusal reasons, and what each ad channel
brought: calls, new clients, won deals.

Deals are those opened in the period. A deal "reached" a stage when it got there or
further along the funnel (a deal moved straight from the first stage to "won" passed
the ones between), so each stage's figure never exceeds the one before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import (
    AdChannel,
    Call,
    Contact,
    Deal,
    DealStageChange,
    PipelineStage,
    RefusalReason,
    TrackingNumber,
)
from callcenter.report_period import ReportPeriod


@dataclass(frozen=True)
class StageReach:
    stage_id: int
    name: str
    is_won: bool
    reached: int
    now_here: int  # deals of the period standing at this stage today

    def percent_of(self, opened: int) -> float | None:
        return round(100 * self.reached / opened, 1) if opened else None


@dataclass(frozen=True)
class FunnelReport:
    period: ReportPeriod
    opened: int
    stages: list[StageReach]
    lost: int
    refusals: list[tuple[str, int]]  # reason, deals lost for it in the period


async def funnel_report(session: AsyncSession, period: ReportPeriod) -> FunnelReport:
    opened = and_(Deal.created_at >= period.start, Deal.created_at < period.end)
    furthest = (
        select(DealStageChange.deal_id, func.max(PipelineStage.position).label("position"))
        .join(PipelineStage, PipelineStage.id == DealStageChange.to_stage_id)
        .join(Deal, Deal.id == DealStageChange.deal_id)
        .where(opened, PipelineStage.is_lost.is_(False))
        .group_by(DealStageChange.deal_id)
        .subquery()
    )
    here = (
        select(Deal.stage_id, func.count().label("deals"))
        .where(opened)
        .group_by(Deal.stage_id)
        .subquery()
    )
    reached = (
        select(func.count(furthest.c.deal_id))
        .where(furthest.c.position >= PipelineStage.position)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            PipelineStage.id,
            PipelineStage.name,
            PipelineStage.is_won,
            reached,
            func.coalesce(here.c.deals, 0),
        )
        .outerjoin(here, here.c.stage_id == PipelineStage.id)
        .where(PipelineStage.is_lost.is_(False), PipelineStage.is_active.is_(True))
        .order_by(PipelineStage.position, PipelineStage.id)
    )
    stages = [StageReach(*row) for row in rows]
    total = await session.scalar(select(func.count()).select_from(Deal).where(opened)) or 0
    closed = and_(
        Deal.stage_is_lost.is_(True), Deal.closed_at >= period.start, Deal.closed_at < period.end
    )
    refusals = [
        (name, int(deals))
        for name, deals in await session.execute(
            select(RefusalReason.name, func.count())
            .join(Deal, Deal.refusal_reason_id == RefusalReason.id)
            .where(closed)
            .group_by(RefusalReason.name)
            .order_by(func.count().desc(), RefusalReason.name)
        )
    ]
    return FunnelReport(period, total, stages, sum(n for _, n in refusals), refusals)


@dataclass(frozen=True)
class ChannelFigures:
    channel_id: int | None  # None: no channel known (a call to an untracked number ...)
    name: str | None
    calls: int
    new_clients: int
    won_deals: int
    won_amount: Decimal


async def channel_report(session: AsyncSession, period: ReportPeriod) -> list[ChannelFigures]:
    calls = {
        key: count
        for key, count in await session.execute(
            select(TrackingNumber.ad_channel_id, func.count())
            .select_from(Call)
            .outerjoin(TrackingNumber, TrackingNumber.id == Call.tracking_number_id)
            .where(
                Call.direction == "inbound",
                Call.started_at >= period.start,
                Call.started_at < period.end,
            )
            .group_by(TrackingNumber.ad_channel_id)
        )
    }
    clients = {
        key: count
        for key, count in await session.execute(
            select(Contact.ad_channel_id, func.count())
            .where(
                Contact.merged_into_id.is_(None),
                Contact.created_at >= period.start,
                Contact.created_at < period.end,
            )
            .group_by(Contact.ad_channel_id)
        )
    }
    won: dict[int | None, tuple[int, Decimal]] = {
        channel: (int(deals), amount or Decimal(0))
        for channel, deals, amount in await session.execute(
            select(Contact.ad_channel_id, func.count(), func.sum(Deal.amount))
            .select_from(Deal)
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            # a company's deal with no client (or whose client was deleted): no channel known
            .outerjoin(Contact, Contact.id == Deal.contact_id)
            .where(
                PipelineStage.is_won.is_(True),
                Deal.closed_at >= period.start,
                Deal.closed_at < period.end,
            )
            .group_by(Contact.ad_channel_id)
        )
    }
    names = {key: name for key, name in await session.execute(select(AdChannel.id, AdChannel.name))}
    keys = set(calls) | set(clients) | set(won) | set(names)
    rows = [
        ChannelFigures(
            key,
            names.get(key) if key is not None else None,
            int(calls.get(key, 0)),
            int(clients.get(key, 0)),
            *won.get(key, (0, Decimal(0))),
        )
        for key in keys
    ]
    return sorted(
        rows, key=lambda r: (r.channel_id is None, -r.calls, -r.new_clients, r.name or "")
    )
