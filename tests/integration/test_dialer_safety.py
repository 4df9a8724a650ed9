"""The last check before every Originate, the pending attempt, and recovery after a crash."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import (
    CallAttempt,
    Campaign,
    Consent,
    Contact,
    ContactPhone,
    DoNotCall,
    Lead,
)
from dialer.leads import (
    Hold,
    LeadBusy,
    Refusal,
    check_before_originate,
    claim_next_leads,
    prepare_originate,
    record_attempt,
)
from dialer.lines import free_lines, lines_in_use
from dialer.recovery import settle_interrupted_attempts
from tests.integration.dialer_helpers import NOW, add_lead, running_campaign

pytestmark = pytest.mark.db

DIALER = "dialer-1"


async def claimed(
    db: async_sessionmaker[AsyncSession], campaign_id: int, *, limit: int = 10
) -> list[int]:
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        leads = await claim_next_leads(session, campaign, limit, NOW, DIALER)
        ids = [lead.id for lead in leads]
        await session.commit()
    return ids


async def prepare(
    db: async_sessionmaker[AsyncSession],
    lead_id: int,
    *,
    dialer_id: str = DIALER,
    at: datetime = NOW,
) -> CallAttempt | Refusal:
    async with db() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        campaign = await session.get(Campaign, lead.campaign_id)
        assert campaign is not None
        result = await prepare_originate(session, lead, campaign, at, dialer_id)
        await session.commit()
    return result


async def lead_row(db: async_sessionmaker[AsyncSession], lead_id: int) -> Lead:
    async with db() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def test_a_number_put_on_do_not_call_after_the_claim_is_never_dialled(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74951112233")
        await add_lead(session, campaign, "+74951112244")
        await session.commit()
    first, second = await claimed(db, campaign.id)
    async with db() as session:
        session.add(DoNotCall(e164="+74951112233", source="api"))
        await session.commit()

    assert await prepare(db, first) == Refusal(Hold.DO_NOT_CALL)
    attempt = await prepare(db, second)
    assert isinstance(attempt, CallAttempt)
    dnc = await lead_row(db, first)
    assert (dnc.status, dnc.locked_by, dnc.attempts) == ("dnc", None, 0)
    async with db() as session:
        attempts = (await session.scalars(select(CallAttempt.lead_id))).all()
    assert attempts == [second]  # nothing was recorded, so nothing was dialled


async def test_advertising_calls_need_a_consent_in_force(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, is_advertising=True)
        owner = Contact(display_name="Согласный клиент")
        session.add(owner)
        await session.flush()
        session.add(ContactPhone(contact_id=owner.id, raw="+74950000001", e164="+74950000001"))
        session.add(Consent(contact_id=owner.id, given_at=NOW - timedelta(days=30)))
        session.add(Consent(e164="+74950000002", given_at=NOW - timedelta(days=1)))
        session.add(
            Consent(
                e164="+74950000003",
                given_at=NOW - timedelta(days=30),
                revoked_at=NOW - timedelta(days=1),
            )
        )
        session.add(Consent(e164="+74950000004", given_at=NOW + timedelta(days=1)))
        for n in range(1, 6):
            await add_lead(session, campaign, f"+7495000000{n}")
        await session.commit()
    ids = await claimed(db, campaign.id)
    results = [await prepare(db, lead_id) for lead_id in ids]
    assert [isinstance(r, CallAttempt) for r in results] == [True, True, False, False, False]
    assert results[2:] == [Refusal(Hold.NO_CONSENT)] * 3
    refused = await lead_row(db, ids[2])
    assert (refused.status, refused.last_result, refused.locked_by) == (
        "failed",
        "no_consent",
        None,
    )


async def test_a_campaign_stopped_meanwhile_releases_its_leads(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    (lead_id,) = await claimed(db, campaign.id)
    async with db() as session:
        stopped = await session.get(Campaign, campaign.id)
        assert stopped is not None
        stopped.status = "stopped"
        await session.commit()
    assert await prepare(db, lead_id) == Refusal(Hold.CAMPAIGN_NOT_RUNNING)
    lead = await lead_row(db, lead_id)
    assert (lead.status, lead.locked_by, lead.next_attempt_at) == ("new", None, None)


async def test_a_closed_window_sends_the_lead_to_its_next_opening(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")  # Moscow
        await session.commit()
    (lead_id,) = await claimed(db, campaign.id)
    evening = NOW.replace(hour=18, minute=30)  # 21:30 in Moscow
    assert await prepare(db, lead_id, at=evening) == Refusal(Hold.OUTSIDE_WINDOW)
    lead = await lead_row(db, lead_id)
    assert lead.status == "new"
    assert lead.next_attempt_at == (NOW + timedelta(days=1)).replace(hour=6)  # 09:00 Moscow


async def test_a_lead_taken_over_is_left_alone(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    (lead_id,) = await claimed(db, campaign.id)
    assert await prepare(db, lead_id, dialer_id="dialer-2") == Refusal(Hold.NOT_OURS)
    lead = await lead_row(db, lead_id)
    assert (lead.status, lead.locked_by) == ("in_progress", DIALER)


async def test_line_caps_per_campaign_and_overall(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        campaign = await running_campaign(session, max_lines=2)
        for n in range(1, 4):
            await add_lead(session, campaign, f"+7495000000{n}")
        await session.commit()
    ids = await claimed(db, campaign.id)
    results = [await prepare(db, lead_id) for lead_id in ids]
    assert [isinstance(r, CallAttempt) for r in results] == [True, True, False]
    assert results[2] == Refusal(Hold.LINES_BUSY)
    async with db() as session:
        assert await lines_in_use(session, campaign.id) == 2
        assert await lines_in_use(session) == 2
        fresh = await session.get(Campaign, campaign.id)
        assert fresh is not None
        assert await free_lines(session, fresh) == 0
    released = await lead_row(db, ids[2])
    assert (released.status, released.locked_by) == ("new", None)


async def test_a_crash_after_the_originate_leaves_an_unknown_attempt_never_redialled(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    (lead_id,) = await claimed(db, campaign.id)
    attempt = await prepare(db, lead_id)
    assert isinstance(attempt, CallAttempt)
    assert attempt.outcome == "pending"
    assert attempt.action_id.startswith(f"dial-{lead_id}-")
    # the same lead cannot get a second attempt while one is in flight
    async with db() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        with pytest.raises(LeadBusy):
            await record_attempt(session, lead, NOW)

    # the process dies here; the next one starts by settling what was in flight
    async with db() as session:
        assert await settle_interrupted_attempts(session, NOW + timedelta(minutes=1)) == 1
        await session.commit()
    lead = await lead_row(db, lead_id)
    assert (lead.status, lead.locked_by) == ("unknown", None)
    assert await claimed(db, campaign.id) == []
    async with db() as session:
        assert await lines_in_use(session) == 0


async def test_the_check_itself_reads_the_lead_afresh(db: async_sessionmaker[AsyncSession]) -> None:
    """A stale Lead object from the claim does not fool the check."""
    async with db() as session:
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    async with db() as session:
        fresh = await session.get(Campaign, campaign.id)
        assert fresh is not None
        (lead,) = await claim_next_leads(session, fresh, 1, NOW, DIALER)
        await session.commit()
        async with db() as other:
            other.add(DoNotCall(e164="+74950000001"))
            await other.commit()
        assert await check_before_originate(session, lead, fresh, NOW, DIALER) == Refusal(
            Hold.DO_NOT_CALL
        )
        await session.commit()
