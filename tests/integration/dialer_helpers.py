"""Set-up shared by the dialer's database tests: a running campaign, its leads, operators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Campaign, Lead, User

# a Monday, 13:00 in Moscow: the default window (09:00-21:00) is open there
NOW = datetime(2025, 3, 3, 10, tzinfo=UTC)


async def running_campaign(session: AsyncSession, **settings: Any) -> Campaign:
    values: dict[str, Any] = {"name": "Обзвон", "status": "running", "is_advertising": False}
    campaign = Campaign(**(values | settings))
    session.add(campaign)
    await session.flush()
    return campaign


async def add_lead(session: AsyncSession, campaign: Campaign, e164: str, **fields: Any) -> Lead:
    values: dict[str, Any] = {"time_zone": "Europe/Moscow", "status": "new", "attempts": 0}
    lead = Lead(campaign_id=campaign.id, phone_raw=e164, phone_e164=e164, **(values | fields))
    session.add(lead)
    await session.flush()
    return lead


async def add_operator(session: AsyncSession, login: str) -> User:
    user = User(login=login, full_name=f"Оператор {login}", password_hash="-", role="operator")
    session.add(user)
    await session.flush()
    return user
