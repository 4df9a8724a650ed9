"""Automatic results move leads on; operators' dispositions refuse, block or call back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AttemptOutcome,
    CallAttempt,
    Campaign,
    Contact,
    Disposition,
    DoNotCall,
    Interaction,
    Lead,
    RefusalReason,
    User,
)
from dialer.leads import claim_next_leads, prepare_originate
from dialer.results import apply_disposition, apply_outcome
from tests.integration.dialer_helpers import NOW, add_lead, add_operator, running_campaign

pytestmark = pytest.mark.db

DIALER = "dialer-1"


async def dial(
    db: async_sessionmaker[AsyncSession], campaign_id: int, *, ready: tuple[int, ...] = ()
) -> CallAttempt:
    """Claim the next lead and record its attempt, as the engine does before an Originate."""
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        (lead,) = await claim_next_leads(session, campaign, 1, NOW, DIALER, ready_operators=ready)
        attempt = await prepare_originate(session, lead, campaign, NOW, DIALER)
        assert isinstance(attempt, CallAttempt)
        await session.commit()
        return attempt


async def settle(
    db: async_sessionmaker[AsyncSession], attempt: CallAttempt, outcome: AttemptOutcome
) -> bool:
    async with db() as session:
        settled = await apply_outcome(session, attempt, outcome, NOW)
        await session.commit()
    return settled


async def lead_of(db: async_sessionmaker[AsyncSession], attempt: CallAttempt) -> Lead:
    async with db() as session:
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        return lead


async def test_a_busy_number_is_retried_after_the_campaigns_delay_until_max_attempts(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, max_attempts=2, retry_delays={"busy": 120})
        await add_lead(session, campaign, "+74950000001")
        await session.commit()

    first = await dial(db, campaign.id)
    assert await settle(db, first, AttemptOutcome.BUSY)
    assert not await settle(db, first, AttemptOutcome.ANSWERED)  # a replayed event: ignored
    lead = await lead_of(db, first)
    assert (lead.status, lead.attempts, lead.last_result, lead.locked_by) == (
        "new",
        1,
        "busy",
        None,
    )
    assert lead.next_attempt_at == NOW + timedelta(minutes=2)

    async with db() as session:
        fresh = await session.get(Campaign, campaign.id)
        assert fresh is not None
        assert await claim_next_leads(session, fresh, 5, NOW, DIALER) == []  # not due yet
        await session.rollback()
    async with db() as session:
        stored = await session.get(Lead, lead.id)
        assert stored is not None
        stored.next_attempt_at = NOW  # two minutes later
        await session.commit()
    second = await dial(db, campaign.id)
    assert await settle(db, second, AttemptOutcome.NO_ANSWER)
    lead = await lead_of(db, second)
    assert (lead.status, lead.attempts, lead.next_attempt_at) == ("failed", 2, None)
    async with db() as session:
        outcomes = (await session.scalars(select(CallAttempt.outcome).order_by("id"))).all()
    assert outcomes == ["busy", "no_answer"]


async def test_default_delays_answered_and_unknown(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        for n in range(1, 4):
            await add_lead(session, campaign, f"+7495000000{n}")
        await session.commit()
    no_answer, answered, unknown = [await dial(db, campaign.id) for _ in range(3)]
    await settle(db, no_answer, AttemptOutcome.NO_ANSWER)
    await settle(db, answered, AttemptOutcome.ANSWERED)
    await settle(db, unknown, AttemptOutcome.UNKNOWN)
    assert (await lead_of(db, no_answer)).next_attempt_at == NOW + timedelta(hours=1)
    assert (await lead_of(db, answered)).status == "done"
    lost = await lead_of(db, unknown)
    assert (lost.status, lost.next_attempt_at) == ("unknown", None)
    with pytest.raises(ValueError, match="pending"):
        await settle(db, no_answer, AttemptOutcome.PENDING)


async def disposition(session: AsyncSession, code: str) -> Disposition:
    found = await session.scalar(select(Disposition).where(Disposition.code == code))
    assert found is not None, code
    return found


async def operator_named(session: AsyncSession, login: str) -> User:
    found = await session.scalar(select(User).where(User.login == login))
    assert found is not None
    return found


async def test_a_refusal_marks_the_client_refused_with_the_reason(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        await add_operator(session, "anna")
        client = Contact(display_name="Пётр Петров")
        session.add(client)
        await session.flush()
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001", contact_id=client.id)
        await session.commit()
    attempt = await dial(db, campaign.id)
    await settle(db, attempt, AttemptOutcome.ANSWERED)
    async with db() as session:
        expensive = await session.scalar(
            select(RefusalReason).where(RefusalReason.name == "Дорого")
        )
        assert expensive is not None
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        await apply_disposition(
            session,
            lead,
            await disposition(session, "not_interested"),
            await operator_named(session, "anna"),
            NOW,
            refusal_reason_id=expensive.id,
        )
        await session.commit()
        stored = await session.get(Contact, client.id, populate_existing=True)
        assert stored is not None
        assert (stored.status, stored.refusal_reason_id) == ("refused", expensive.id)
        entry = await session.scalar(
            select(Interaction).where(
                Interaction.contact_id == client.id, Interaction.kind == "status_change"
            )
        )
        assert entry is not None
        assert entry.payload == {"from": "lead", "to": "refused", "refusal_reason": "Дорого"}
    lead = await lead_of(db, attempt)
    assert (lead.status, lead.last_result, lead.attempts) == ("done", "not_interested", 1)


async def test_a_refusal_with_an_unknown_reason_changes_nothing(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        await add_operator(session, "anna")
        client = Contact(display_name="Пётр Петров")
        session.add(client)
        await session.flush()
        campaign = await running_campaign(session)
        lead = await add_lead(session, campaign, "+74950000001", contact_id=client.id)
        client_id = client.id
        await session.commit()
        with pytest.raises(FormInvalid) as refused:
            await apply_disposition(
                session,
                lead,
                await disposition(session, "not_interested"),
                await operator_named(session, "anna"),
                NOW,
                refusal_reason_id=999_999,
            )
        assert list(refused.value.errors) == ["refusal_reason_id"]
        assert (lead.status, lead.last_result) == ("new", None)
        await session.rollback()
        status = await session.scalar(select(Contact.status).where(Contact.id == client_id))
        assert status == "lead"


async def test_do_not_call_lists_the_number_for_every_campaign(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        anna = await add_operator(session, "anna")
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        other = await running_campaign(session, name="Другой обзвон")
        await add_lead(session, other, "+74950000001")
        await session.commit()
    attempt = await dial(db, campaign.id)
    await settle(db, attempt, AttemptOutcome.ANSWERED)
    async with db() as session:
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        await apply_disposition(session, lead, await disposition(session, "do_not_call"), anna, NOW)
        await session.commit()
        listed = await session.scalar(select(DoNotCall).where(DoNotCall.e164 == "+74950000001"))
        assert listed is not None
        assert (listed.source, listed.added_by_id) == ("operator", anna.id)
    assert (await lead_of(db, attempt)).status == "dnc"
    # the other campaign's lead with that number is claimed but refused before the Originate
    async with db() as session:
        fresh = await session.get(Campaign, other.id)
        assert fresh is not None
        (other_lead,) = await claim_next_leads(session, fresh, 1, NOW, DIALER)
        refusal = await prepare_originate(session, other_lead, fresh, NOW, DIALER)
        assert not isinstance(refusal, CallAttempt)
        assert refusal.reason == "do_not_call"


async def test_a_callback_goes_back_to_the_same_operator_at_the_agreed_time(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        anna = await add_operator(session, "anna")
        boris = await add_operator(session, "boris")
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    attempt = await dial(db, campaign.id)
    await settle(db, attempt, AttemptOutcome.ANSWERED)
    agreed = NOW + timedelta(hours=2)
    async with db() as session:
        lead = await session.get(Lead, attempt.lead_id)
        assert lead is not None
        callback = await disposition(session, "callback")
        with pytest.raises(FormInvalid):  # a callback needs a time to come
            await apply_disposition(session, lead, callback, anna, NOW, callback_at=NOW)
        await apply_disposition(session, lead, callback, anna, NOW, callback_at=agreed)
        await session.commit()
    lead = await lead_of(db, attempt)
    assert (lead.status, lead.assigned_user_id, lead.next_attempt_at) == (
        "callback",
        anna.id,
        agreed,
    )

    async def claim_at(when_hours: int, ready: tuple[int, ...]) -> list[int]:
        async with db() as session:
            fresh = await session.get(Campaign, campaign.id)
            assert fresh is not None
            now = NOW + timedelta(hours=when_hours)
            leads = await claim_next_leads(session, fresh, 5, now, DIALER, ready_operators=ready)
            ids = [lead.id for lead in leads]
            await session.rollback()
        return ids

    assert await claim_at(1, (anna.id, boris.id)) == []  # not yet
    assert await claim_at(2, (boris.id,)) == []  # boris is not the one it was promised to
    assert await claim_at(2, (anna.id,)) == [lead.id]
