"""How many outbound lines are busy: per campaign and over the whole call center.

A line is busy from the moment its attempt is recorded (before the Originate is sent)
until the attempt's outcome is known, so a pending attempt is the count's unit.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import AttemptOutcome, CallAttempt, Campaign

# the trunk's capacity for the dialer, whatever the campaigns ask for; calls the
# operators place by hand and inbound calls need lines too
MAX_LINES_OVERALL = 30

# held (per transaction) while lines are counted and an attempt recorded, so two
# dialers cannot both take the last free line
_LINES_LOCK = 0x6363_0001


async def lines_in_use(session: AsyncSession, campaign_id: int | None = None) -> int:
    """Pending attempts of one campaign, or of all campaigns when ``campaign_id`` is None."""
    query = select(func.count()).where(
        CallAttempt.outcome == AttemptOutcome.PENDING, CallAttempt.ended_at.is_(None)
    )
    if campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == campaign_id)
    return int(await session.scalar(query) or 0)


async def free_lines(session: AsyncSession, campaign: Campaign) -> int:
    """Lines this campaign may still open now: under its own cap and the overall one."""
    overall = MAX_LINES_OVERALL - await lines_in_use(session)
    if campaign.max_lines is None:
        return max(0, overall)
    own = campaign.max_lines - await lines_in_use(session, campaign.id)
    return max(0, min(own, overall))


async def lock_lines(session: AsyncSession) -> None:
    """Serialise line counting with other dialers until this transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LINES_LOCK})
