"""Start, pause, resume and stop a campaign: the only code that changes a campaign's status.

Why a stop is final on the wire. Each control takes the campaign's control lock
(a PostgreSQL advisory lock, exclusive, held until the caller's transaction ends)
before it writes the status. The dialer engine holds the same lock, shared, from
the moment it re-reads the campaign's status (``prepare_originate``) until its
Originate has been written to Asterisk (``sending_lock``). So:

- a control that comes while the engine is sending waits until the Originate is
  out, then writes the status;
- an Originate prepared after the control took the lock waits until the caller
  commits, and its ``prepare_originate`` then reads the committed status: a campaign
  that is not running dials nothing.

Once the caller has committed, no Originate of the campaign can follow; the
engine's calls already ringing end normally. The caller commits (the function
only writes into its transaction) and the commit also wakes the engine
(``NOTIFY``), so a start or resume dials without waiting for the next round.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from callcenter import audit
from callcenter.models import Campaign, CampaignStatus, User

# the two-key advisory lock class of campaign controls: (CONTROL_LOCK, campaign id)
CONTROL_LOCK = 0x6363_0002
WAKE_CHANNEL = "callcenter_dialer"

_RUNNING = CampaignStatus.RUNNING
_CHANGES: dict[str, tuple[frozenset[str], CampaignStatus]] = {
    "start": (frozenset({CampaignStatus.DRAFT}), _RUNNING),
    "pause": (frozenset({_RUNNING}), CampaignStatus.PAUSED),
    "resume": (frozenset({CampaignStatus.PAUSED}), _RUNNING),
    "stop": (frozenset({_RUNNING, CampaignStatus.PAUSED}), CampaignStatus.STOPPED),
}


class CampaignControlError(ValueError):
    """The campaign does not exist or cannot make that change in its status."""


async def start(session: AsyncSession, campaign_id: int, user: User | None) -> Campaign:
    """A draft campaign starts dialling (its mode decides how)."""
    return await _change(session, campaign_id, user, "start")


async def pause(session: AsyncSession, campaign_id: int, user: User | None) -> Campaign:
    """No new calls after the caller commits; calls already ringing end normally."""
    return await _change(session, campaign_id, user, "pause")


async def resume(session: AsyncSession, campaign_id: int, user: User | None) -> Campaign:
    return await _change(session, campaign_id, user, "resume")


async def stop(session: AsyncSession, campaign_id: int, user: User | None) -> Campaign:
    """Like pause, for good: a stopped campaign is not resumed."""
    return await _change(session, campaign_id, user, "stop")


async def _change(
    session: AsyncSession, campaign_id: int, user: User | None, action: str
) -> Campaign:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:lock, :campaign)"),
        {"lock": CONTROL_LOCK, "campaign": campaign_id},
    )
    campaign = await session.get(
        Campaign, campaign_id, with_for_update=True, populate_existing=True
    )
    if campaign is None:
        raise CampaignControlError(f"campaign {campaign_id} does not exist")
    allowed, status = _CHANGES[action]
    if campaign.status not in allowed:
        raise CampaignControlError(f"a {campaign.status} campaign cannot {action}")
    before = campaign.status
    campaign.status = status.value
    campaign.updated_at = datetime.now(UTC)
    await audit.record(
        session,
        user,
        f"campaign.{action}",
        "campaign",
        campaign.id,
        before=before,
        after=status.value,
    )
    await session.execute(select(func.pg_notify(WAKE_CHANNEL, str(campaign.id))))
    await session.flush()
    return campaign


@asynccontextmanager
async def sending_lock(connection: AsyncConnection, campaign_id: int) -> AsyncIterator[None]:
    """Held (shared) from the last check before an Originate until it is on the wire.

    ``connection`` is in autocommit mode: the lock belongs to its session, not to a
    transaction, so the check's transaction can commit inside it.
    """
    params = {"lock": CONTROL_LOCK, "campaign": campaign_id}
    await connection.execute(text("SELECT pg_advisory_lock_shared(:lock, :campaign)"), params)
    try:
        yield
    finally:
        await connection.execute(text("SELECT pg_advisory_unlock_shared(:lock, :campaign)"), params)
