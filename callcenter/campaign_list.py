"""Campaigns as a manager reads them: settings and how far their dial lists got."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Campaign, Lead


async def list_campaigns(session: AsyncSession) -> list[dict[str, Any]]:
    campaigns = list(await session.scalars(select(Campaign).order_by(Campaign.id.desc())))
    counts = await _lead_counts(session, [c.id for c in campaigns])
    return [_campaign_json(c, counts.get(c.id, {})) for c in campaigns]


async def campaign_by_id(session: AsyncSession, campaign_id: int) -> dict[str, Any] | None:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    counts = await _lead_counts(session, [campaign.id])
    return _campaign_json(campaign, counts.get(campaign.id, {}))


async def _lead_counts(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    if not ids:
        return counts
    rows = await session.execute(
        select(Lead.campaign_id, Lead.status, func.count())
        .where(Lead.campaign_id.in_(ids))
        .group_by(Lead.campaign_id, Lead.status)
    )
    for campaign_id, status, count in rows:
        counts.setdefault(campaign_id, {})[status] = count
    return counts


def _campaign_json(campaign: Campaign, leads: dict[str, int]) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "mode": campaign.mode,
        "status": campaign.status,
        "caller_id": campaign.caller_id,
        "max_attempts": campaign.max_attempts,
        "is_advertising": campaign.is_advertising,
        "leads": leads,
        "leads_total": sum(leads.values()),
        "created_at": campaign.created_at.isoformat(),
    }
