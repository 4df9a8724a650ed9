"""Lead selection: windows by the callee's zone, retries, callbacks, and no double claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import Campaign, Contact, Lead
from dialer.leads import claim_next_leads, place_leads
from tests.integration.dialer_helpers import NOW, add_lead, add_operator, running_campaign

pytestmark = pytest.mark.db


async def claimed_numbers(
    db: async_sessionmaker[AsyncSession],
    campaign_id: int,
    now: datetime,
    *,
    limit: int = 50,
    ready: tuple[int, ...] = (),
) -> list[str]:
    """What a dialer would claim at ``now``, rolled back afterwards."""
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        leads = await claim_next_leads(
            session, campaign, limit, now, "dialer-1", ready_operators=ready
        )
        numbers = [lead.phone_e164 for lead in leads]
        await session.rollback()
    return numbers


async def test_two_dialers_never_claim_the_same_lead(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        for n in range(20):
            await add_lead(session, campaign, f"+7495100{n:04d}")
        await session.commit()

    async def claim(dialer_id: str, limit: int) -> set[int]:
        async with db() as session:
            fresh = await session.get(Campaign, campaign.id)
            assert fresh is not None
            leads = await claim_next_leads(session, fresh, limit, NOW, dialer_id)
            await session.commit()
            return {lead.id for lead in leads}

    first, second = await asyncio.gather(claim("dialer-1", 8), claim("dialer-2", 8))
    assert len(first) == len(second) == 8
    assert not first & second

    # a claim still open in one transaction is skipped by the other, not waited for
    async with db() as holder, db() as other:
        held = await claim_next_leads(holder, campaign, 2, NOW, "dialer-1")
        taken = await claim_next_leads(other, campaign, 10, NOW, "dialer-2")
        assert len(held) == 2
        assert len(taken) == 2
        assert not {lead.id for lead in held} & {lead.id for lead in taken}
        await holder.commit()
        await other.commit()
    assert await claimed_numbers(db, campaign.id, NOW) == []  # all 20 are taken

    async with db() as session:
        rows = (await session.execute(select(Lead.status, Lead.locked_by))).all()
    assert {status for status, _ in rows} == {"in_progress"}
    assert sum(1 for _, by in rows if by == "dialer-1") == 10


async def test_the_window_is_open_in_the_callees_zone(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        campaign = await running_campaign(session, calling_windows={"mon": [["09:00", "21:00"]]})
        await add_lead(session, campaign, "+74951234567")  # Moscow, UTC+3
        await add_lead(session, campaign, "+74232123456", time_zone="Asia/Vladivostok")
        # no zone stored: the number's own zones decide
        await add_lead(session, campaign, "+74012123456", time_zone=None)  # Kaliningrad
        await add_lead(session, campaign, "+79161112233", time_zone=None)  # any of ~16
        await session.commit()

    monday = NOW.replace(hour=0)
    # Vladivostok 16:30, Moscow 09:30, Kaliningrad 08:30, the mobile somewhere closed
    assert sorted(await claimed_numbers(db, campaign.id, monday.replace(hour=6, minute=30))) == [
        "+74232123456",
        "+74951234567",
    ]
    # every Russian zone is open between 07:00 and 09:00 UTC
    assert len(await claimed_numbers(db, campaign.id, monday.replace(hour=7, minute=30))) == 4
    # Vladivostok 22:00
    assert sorted(await claimed_numbers(db, campaign.id, monday.replace(hour=12))) == [
        "+74012123456",
        "+74951234567",
    ]
    # Tuesday is not in the campaign's windows
    assert await claimed_numbers(db, campaign.id, NOW + timedelta(days=1)) == []


async def test_only_due_leads_under_max_attempts_of_a_running_campaign(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, max_attempts=3)
        await add_lead(session, campaign, "+74950000001")
        await add_lead(session, campaign, "+74950000002", attempts=2, last_result="busy")
        await add_lead(session, campaign, "+74950000003", attempts=3, last_result="busy")
        await add_lead(
            session, campaign, "+74950000004", next_attempt_at=NOW + timedelta(minutes=5)
        )
        await add_lead(
            session, campaign, "+74950000005", next_attempt_at=NOW - timedelta(minutes=5)
        )
        for n, status in enumerate(("done", "failed", "dnc", "unknown", "in_progress")):
            await add_lead(session, campaign, f"+7495000010{n}", status=status)
        await add_lead(session, campaign, "+74950000200", locked_at=NOW, locked_by="operator-7")
        paused = await running_campaign(session, status="paused")
        await add_lead(session, paused, "+74950000001")
        await session.commit()

    assert await claimed_numbers(db, campaign.id, NOW) == [
        "+74950000001",
        "+74950000005",
        "+74950000002",  # fewest attempts first
    ]
    later = await claimed_numbers(db, campaign.id, NOW + timedelta(minutes=5))
    assert "+74950000004" in later
    assert await claimed_numbers(db, paused.id, NOW) == []


async def test_callbacks_come_first_and_only_to_their_operator(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        anna, boris = await add_operator(session, "anna"), await add_operator(session, "boris")
        campaign = await running_campaign(session)
        await add_lead(session, campaign, "+74950000001", attempts=1, last_result="no_answer")
        await add_lead(session, campaign, "+74950000002")
        await add_lead(session, campaign, "+74950000003")
        callback = {"status": "callback", "last_result": "callback", "attempts": 1}
        await add_lead(
            session,
            campaign,
            "+74950000004",
            assigned_user_id=anna.id,
            next_attempt_at=NOW - timedelta(minutes=1),
            **callback,
        )
        await add_lead(
            session,
            campaign,
            "+74950000005",
            assigned_user_id=boris.id,
            next_attempt_at=NOW - timedelta(minutes=1),
            **callback,
        )
        await add_lead(
            session,
            campaign,
            "+74950000006",
            assigned_user_id=anna.id,
            next_attempt_at=NOW + timedelta(hours=1),
            **callback,
        )
        await session.commit()

    assert await claimed_numbers(db, campaign.id, NOW, ready=(anna.id,)) == [
        "+74950000004",  # anna's callback, due
        "+74950000002",
        "+74950000003",
        "+74950000001",
    ]
    # nobody ready to take them: callbacks wait for their operator
    assert "+74950000004" not in await claimed_numbers(db, campaign.id, NOW)
    both = await claimed_numbers(db, campaign.id, NOW, ready=(anna.id, boris.id), limit=2)
    assert both == ["+74950000004", "+74950000005"]


async def test_ambiguous_leads_do_not_hide_open_ones(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        # many mobiles first in order, closed at 13:00 Moscow (Kamchatka is at 22:00)
        for n in range(30):
            await add_lead(session, campaign, f"+7916111{n:04d}", time_zone=None)
        await add_lead(session, campaign, "+74950000001")
        await add_lead(session, campaign, "+74950000002", time_zone=None)
        await session.commit()
    assert await claimed_numbers(db, campaign.id, NOW, limit=2) == [
        "+74950000001",
        "+74950000002",
    ]


async def test_leads_are_placed_in_their_contacts_or_numbers_zone(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session)
        contact = Contact(display_name="Иван", time_zone="Asia/Omsk")
        session.add(contact)
        await session.flush()
        await add_lead(session, campaign, "+79160000001", time_zone=None, contact_id=contact.id)
        await add_lead(session, campaign, "+74232123456", time_zone=None)
        await add_lead(session, campaign, "+79160000002", time_zone=None)
        assert await place_leads(session, campaign.id) == 2
        await session.commit()
        zones = dict((await session.execute(select(Lead.phone_e164, Lead.time_zone))).all())
    assert zones == {
        "+79160000001": "Asia/Omsk",
        "+74232123456": "Asia/Vladivostok",
        "+79160000002": None,  # a mobile stays unplaced: any of its zones may be right
    }


async def test_a_campaign_with_broken_windows_dials_nobody(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        campaign = await running_campaign(session, calling_windows={"mon": [["21:00", "09:00"]]})
        await add_lead(session, campaign, "+74950000001")
        await session.commit()
    assert await claimed_numbers(db, campaign.id, NOW) == []
    assert NOW.tzinfo is UTC
