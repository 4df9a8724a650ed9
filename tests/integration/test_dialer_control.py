"""Campaign controls, the lock that makes a stop final, the dialer's election, and recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import AuditEntry, CallAttempt, Campaign, Lead
from dialer import control
from dialer.control import CampaignControlError, sending_lock
from dialer.election import elected
from dialer.leads import Hold, Refusal, claim_next_leads, prepare_originate
from dialer.recovery import release_dialer_claims
from tests.integration.dialer_helpers import NOW, add_lead, add_operator, running_campaign

pytestmark = pytest.mark.db

DIALER = "dialer-test"


async def status(db: async_sessionmaker[AsyncSession], campaign_id: int) -> str:
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.status


async def test_controls_move_a_campaign_through_its_life_and_are_audited(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        manager = await add_operator(session, "manager")
        campaign = await running_campaign(session, status="draft")
        await session.commit()
    for action, expected in [
        (control.start, "running"),
        (control.pause, "paused"),
        (control.resume, "running"),
        (control.stop, "stopped"),
    ]:
        async with db() as session:
            await action(session, campaign.id, manager)
            await session.commit()
        assert await status(db, campaign.id) == expected
    async with db() as session:
        entries = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert entries == ["campaign.start", "campaign.pause", "campaign.resume", "campaign.stop"]


@pytest.mark.parametrize(
    ("start_as", "action"),
    [("draft", "pause"), ("running", "start"), ("running", "resume"), ("stopped", "resume")],
)
async def test_a_control_that_does_not_fit_the_status_changes_nothing(
    db: async_sessionmaker[AsyncSession], start_as: str, action: str
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, status=start_as)
        await session.commit()
    async with db() as session:
        with pytest.raises(CampaignControlError):
            await getattr(control, action)(session, campaign.id, None)
        await session.rollback()
    assert await status(db, campaign.id) == start_as
    async with db() as session:
        with pytest.raises(ValueError, match="does not exist"):
            await control.stop(session, campaign.id + 1000, None)


async def test_a_stop_waits_for_an_originate_being_sent_and_every_later_one_is_refused(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        first = await add_lead(session, campaign, "+74951112233")
        second = await add_lead(session, campaign, "+74951112244")
        await session.commit()
        claimed = await claim_next_leads(session, campaign, 2, NOW, DIALER)
        await session.commit()
    assert {lead.id for lead in claimed} == {first.id, second.id}
    engine = db.kw["bind"]
    async with engine.connect() as raw:
        sender = await raw.execution_options(isolation_level="AUTOCOMMIT")
        async with sending_lock(sender, campaign.id):
            # the engine is between its last check and the Originate: the stop waits
            stopping = asyncio.create_task(_stop(db, campaign.id))
            await asyncio.sleep(0.5)
            assert not stopping.done()
            async with db() as session:
                attempt = await prepare_originate(session, first, campaign, NOW, DIALER)
                await session.commit()
            assert isinstance(attempt, CallAttempt)
        await asyncio.wait_for(stopping, 5)
        # the stop is committed: the next Originate's check reads it
        async with sending_lock(sender, campaign.id), db() as session:
            refused = await prepare_originate(session, second, campaign, NOW, DIALER)
            await session.commit()
    assert refused == Refusal(Hold.CAMPAIGN_NOT_RUNNING)


async def test_an_originate_prepared_while_a_stop_is_uncommitted_waits_and_is_refused(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        lead = await add_lead(session, campaign, "+74951112233")
        await session.commit()
        (lead,) = await claim_next_leads(session, campaign, 1, NOW, DIALER)
        await session.commit()
    engine = db.kw["bind"]
    async with db() as stopper, engine.connect() as raw:
        await control.stop(stopper, campaign.id, None)  # returned: the lock is held
        sender = await raw.execution_options(isolation_level="AUTOCOMMIT")

        async def engine_sends() -> CallAttempt | Refusal:
            async with sending_lock(sender, campaign.id), db() as session:
                result = await prepare_originate(session, lead, campaign, NOW, DIALER)
                await session.commit()
                return result

        sending = asyncio.create_task(engine_sends())
        await asyncio.sleep(0.5)
        assert not sending.done()
        await stopper.commit()
        assert await asyncio.wait_for(sending, 5) == Refusal(Hold.CAMPAIGN_NOT_RUNNING)


async def _stop(db: async_sessionmaker[AsyncSession], campaign_id: int) -> None:
    async with db() as session:
        await control.stop(session, campaign_id, None)
        await session.commit()


async def test_one_dialer_per_database_and_a_control_wakes_it(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, status="paused")
        await session.commit()
    engine = db.kw["bind"]
    first_woken, second_woken = asyncio.Event(), asyncio.Event()
    async with elected(engine, first_woken):
        second = asyncio.create_task(_hold_election(engine, second_woken))
        await asyncio.sleep(0.5)
        assert not second.done()  # waits while the first one dials
        async with db() as session:
            await control.resume(session, campaign.id, None)
            await session.commit()
        await asyncio.wait_for(first_woken.wait(), 5)
    await asyncio.wait_for(second, 5)  # took over once the first let go


async def _hold_election(engine: object, wake: asyncio.Event) -> None:
    async with elected(engine, wake, retry_seconds=0.1):  # type: ignore[arg-type]
        pass


async def test_recovery_releases_leads_a_dead_dialer_claimed_but_never_dialled(
    db: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with db() as session:
        campaign = await running_campaign(session)
        claimed = await add_lead(
            session, campaign, "+74951112233", status="in_progress", locked_at=now, locked_by=DIALER
        )
        callback = await add_lead(
            session,
            campaign,
            "+74951112244",
            status="in_progress",
            last_result="callback",
            locked_at=now,
            locked_by=DIALER,
        )
        shown = await add_lead(
            session,
            campaign,
            "+74951112255",
            status="in_progress",
            locked_at=now,
            locked_by="operator-1",
        )
        await session.commit()
        assert await release_dialer_claims(session, now) == 2
        await session.commit()
        rows = {
            lead.id: (lead.status, lead.locked_by)
            for lead in await session.scalars(
                select(Lead).execution_options(populate_existing=True)
            )
        }
    assert rows == {
        claimed.id: ("new", None),
        callback.id: ("callback", None),
        shown.id: ("in_progress", "operator-1"),  # an operator's preview: not ours
    }
