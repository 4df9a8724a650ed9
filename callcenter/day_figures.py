"""Today's figures so far, from the database: where the wallboard starts its day; and the
campaigns it shows with their leads left, which only the database knows."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.campaigns import LEADS_LEFT, PICKED_UP
from callcenter.models import AttemptOutcome, Call, CallAttempt, Campaign, CampaignStatus, Lead
from callcenter.wallboard import UNANSWERED, CampaignDay, CampaignInfo, DayCounts

SHOWN_CAMPAIGNS = (CampaignStatus.RUNNING, CampaignStatus.PAUSED)


async def day_so_far(
    session: AsyncSession, zone: ZoneInfo, sla_seconds: int, now: datetime
) -> DayCounts:
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), zone)
    answered, abandoned, within = (
        await session.execute(
            select(
                func.count().filter(Call.answered_at.is_not(None)),
                func.count().filter(Call.answered_at.is_(None), Call.result.in_(UNANSWERED)),
                func.count().filter(
                    Call.answered_at.is_not(None), Call.wait_seconds <= sla_seconds
                ),
            ).where(
                Call.direction == "inbound",
                Call.queue_name.is_not(None),
                Call.ended_at.is_not(None),
                Call.started_at >= start,
            )
        )
    ).one()
    return DayCounts(day, int(answered), int(abandoned), int(within))


async def campaign_day_so_far(
    session: AsyncSession, zone: ZoneInfo, now: datetime
) -> dict[int, CampaignDay]:
    """Today's settled dialer attempts per campaign (those still pending count once
    the dialer settles them)."""
    start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    outcome = CallAttempt.outcome
    rows = await session.execute(
        select(
            CallAttempt.campaign_id,
            func.count(),
            func.count().filter(outcome.in_(PICKED_UP)),
            func.count().filter(outcome == AttemptOutcome.ABANDONED),
        )
        .where(CallAttempt.originated_at >= start, outcome != AttemptOutcome.PENDING)
        .group_by(CallAttempt.campaign_id)
    )
    return {
        campaign: CampaignDay(int(dialled), int(picked), int(abandoned))
        for campaign, dialled, picked, abandoned in rows
    }


async def shown_campaigns(session: AsyncSession) -> dict[int, CampaignInfo]:
    """The running and paused campaigns with the leads each has left to call."""
    left = (
        select(func.count())
        .where(Lead.campaign_id == Campaign.id, Lead.status.in_(LEADS_LEFT))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Campaign.id, Campaign.name, left).where(Campaign.status.in_(SHOWN_CAMPAIGNS))
    )
    return {campaign: CampaignInfo(name, int(count)) for campaign, name, count in rows}
