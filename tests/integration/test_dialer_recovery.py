from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import CallAttempt, Campaign, Lead
from dialer.recovery import settle_interrupted_attempts

pytestmark = pytest.mark.db


async def test_attempts_in_flight_at_a_stop_become_unknown_and_are_not_redialled(
    db: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with db() as session:
        campaign = Campaign(name="Обзвон", status="running")
        session.add(campaign)
        await session.flush()
        ringing = Lead(
            campaign_id=campaign.id,
            phone_raw="8 916 111-22-33",
            phone_e164="+79161112233",
            status="in_progress",
            attempts=1,
            locked_at=now,
            locked_by="dialer-1",
        )
        finished = Lead(
            campaign_id=campaign.id,
            phone_raw="8 916 111-22-44",
            phone_e164="+79161112244",
            status="done",
            attempts=1,
        )
        session.add_all([ringing, finished])
        await session.flush()
        session.add_all(
            [
                CallAttempt(lead_id=ringing.id, campaign_id=campaign.id, action_id="cc-1"),
                CallAttempt(
                    lead_id=finished.id,
                    campaign_id=campaign.id,
                    action_id="cc-2",
                    outcome="answered",
                    ended_at=now,
                ),
            ]
        )
        await session.commit()

    async with db() as session:
        assert await settle_interrupted_attempts(session, now) == 1
        await session.commit()
    async with db() as session:
        assert await settle_interrupted_attempts(session, now) == 0  # nothing left to settle
        outcomes = dict(
            (await session.execute(select(CallAttempt.action_id, CallAttempt.outcome))).all()
        )
        assert outcomes == {"cc-1": "unknown", "cc-2": "answered"}
        leads = {lead.phone_e164: lead for lead in (await session.execute(select(Lead))).scalars()}
        assert leads["+79161112233"].status == "unknown"
        assert leads["+79161112233"].locked_by is None
        assert leads["+79161112233"].next_attempt_at is None  # no automatic retry scheduled
        assert leads["+79161112244"].status == "done"
