"""Campaign settings, dial lists, live progress and the preview claim, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import campaigns
from callcenter.csv_import import import_contacts
from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AttemptOutcome,
    Call,
    CallAttempt,
    Campaign,
    CampaignOperator,
    Contact,
    ContactImport,
    ContactPhone,
    DoNotCall,
    Interaction,
    Lead,
    LeadStatus,
    User,
)
from dialer import preview
from dialer.desk import Desk
from tests.integration.dialer_helpers import NOW, add_lead, add_operator, running_campaign

pytestmark = pytest.mark.db

VALID: dict[str, Any] = {
    "name": "Весенний обзвон",
    "mode": "preview",
    "caller_id": "+74950000000",
    "script": "Здравствуйте, {first_name}!",
    "disposition_codes": ["sale", "callback"],
    "max_attempts": 4,
    "retry_delays": {"busy": 600, "no_answer": 3600},
    "calling_windows": {"mon": [["10:00", "18:00"]]},
    "target_abandon_percent": "2.5",
    "abandon_window": "30d",
    "lines_per_operator": "1.5",
    "max_lines": 5,
    "amd_enabled": True,
    "is_advertising": False,
}


async def _manager(session: AsyncSession) -> User:
    user = User(login="boss", full_name="Руководитель", password_hash="-", role="manager")
    session.add(user)
    await session.flush()
    return user


async def test_a_valid_form_creates_a_draft_with_its_operators(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        boss = await _manager(session)
        anna = await add_operator(session, "anna")
        form = await campaigns.read_form(session, {**VALID, "operator_ids": [anna.id]}, Desk())
        campaign = await campaigns.create_campaign(session, form, boss)
        await session.commit()
        stored = await session.get(Campaign, campaign.id, populate_existing=True)
        assert stored is not None
        assert stored.status == "draft"
        assert str(stored.target_abandon_rate) == "0.0250"
        assert stored.disposition_codes == ["sale", "callback"]
        assert stored.calling_windows == {"mon": [["10:00", "18:00"]]}
        assert await campaigns.operator_ids(session, campaign.id) == [anna.id]
        settings = await campaigns.campaign_settings(session, stored)
        # what the page shows is what the form reads back: saving it again changes nothing
        again = await campaigns.read_form(session, settings, Desk())
        assert again == form


async def test_every_wrong_field_is_named_and_nothing_is_stored(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        boss = await _manager(session)
        await session.commit()
        bad = {
            "name": "  ",
            "mode": "telepathic",
            "caller_id": "74950000000\r\nAction: Hangup",
            "script": 42,
            "disposition_codes": ["sale", "no_such_result"],
            "max_attempts": 0,
            "retry_delays": {"busy": -5, "ringing": 10},
            "calling_windows": {"mon": [["18:00", "10:00"]], "someday": []},
            "target_abandon_percent": "25",
            "abandon_window": "1y",
            "lines_per_operator": "0",
            "max_lines": "many",
            "operator_ids": [boss.id],  # a manager, not an operator
        }
        with pytest.raises(FormInvalid) as caught:
            await campaigns.read_form(session, bad, Desk())
        assert set(caught.value.errors) >= {
            "name",
            "mode",
            "caller_id",
            "script",
            "disposition_codes",
            "max_attempts",
            "retry_delays",
            "retry_delays.busy",
            "calling_windows",
            "calling_windows.mon",
            "target_abandon_percent",
            "abandon_window",
            "lines_per_operator",
            "max_lines",
            "operator_ids",
        }
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0
        with pytest.raises(FormInvalid) as caught:
            await campaigns.read_form(
                session, {**VALID, "name": "a\x00b", "script": "Привет\x1b[2J"}, Desk()
            )
        assert set(caught.value.errors) == {"name", "script"}


async def test_a_finished_import_becomes_a_dial_list(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        boss = await _manager(session)
        campaign = await running_campaign(session, status="draft")
        done = ContactImport(file_name="list.csv", status="done", created=4)
        other = ContactImport(file_name="other.csv", status="done", created=1)
        session.add_all([done, other])
        await session.flush()
        people = []
        for n, import_id in enumerate([done.id, done.id, done.id, done.id, other.id]):
            person = Contact(display_name=f"Клиент {n}", import_id=import_id)
            session.add(person)
            await session.flush()
            people.append(person)
        for n, person in enumerate(people[:3] + people[4:]):
            e164 = f"+7495555000{n}"
            session.add(ContactPhone(contact_id=person.id, raw=e164, e164=e164))
        session.add(DoNotCall(e164="+74955550001"))  # the second client's only number
        await session.flush()
        await add_lead(session, campaign, "+74955550002")  # the third is in already
        result = await campaigns.add_import_to_campaign(session, boss, done.id, campaign)
        assert result.as_json() == {"added": 1, "already_in": 1, "do_not_call": 1, "no_phone": 1}
        numbers = set(await session.scalars(select(Lead.phone_e164)))
        assert numbers == {"+74955550000", "+74955550002"}
        with pytest.raises(FormInvalid):
            await campaigns.add_import_to_campaign(session, boss, 10**9, campaign)


async def test_progress_matches_an_independent_count(db: async_sessionmaker[AsyncSession]) -> None:
    rng = random.Random(5)
    outcomes = list(AttemptOutcome)
    async with db() as session:
        campaign = await running_campaign(session, abandon_window="24h")
        other = await running_campaign(session, name="Другая")
        expected = {"dialled": 0, "answered": 0, "abandoned": 0, "ringing": 0}
        recent = {"answered": 0, "abandoned": 0}
        statuses: dict[str, int] = {}
        for n in range(60):
            target = campaign if n % 4 else other
            status = rng.choice(list(LeadStatus))
            lead = await add_lead(session, target, f"+7495600{n:04d}", status=status)
            mine = target is campaign
            if mine:
                statuses[status] = statuses.get(status, 0) + 1
            for k in range(rng.randint(0, 3)):
                outcome = rng.choice(outcomes)
                age = timedelta(hours=rng.choice([1, 5, 30, 100]))
                session.add(
                    CallAttempt(
                        lead_id=lead.id,
                        campaign_id=target.id,
                        action_id=f"a-{n}-{k}",
                        originated_at=NOW - age,
                        outcome=outcome,
                    )
                )
                if not mine:
                    continue
                expected["dialled"] += 1
                picked_up = outcome in (AttemptOutcome.ANSWERED, AttemptOutcome.ABANDONED)
                expected["answered"] += picked_up
                expected["abandoned"] += outcome == AttemptOutcome.ABANDONED
                expected["ringing"] += outcome == AttemptOutcome.PENDING
                if age < timedelta(hours=24):
                    recent["answered"] += picked_up
                    recent["abandoned"] += outcome == AttemptOutcome.ABANDONED
        talking = 0
        for n in range(6):
            answered = n % 2 == 0
            ended = n % 3 == 0
            talking += answered and not ended
            session.add(
                Call(
                    linkedid=f"call-{n}",
                    direction="outbound",
                    started_at=NOW - timedelta(minutes=5),
                    answered_at=NOW - timedelta(minutes=4) if answered else None,
                    ended_at=NOW if ended else None,
                    campaign_id=campaign.id,
                )
            )
        await session.flush()
        shown = await campaigns.progress(session, campaign, NOW)
    assert recent["answered"] > 0 and expected["dialled"] > 20  # the data has substance
    assert shown.dialled == expected["dialled"]
    assert shown.answered == expected["answered"]
    assert shown.abandoned == expected["abandoned"]
    assert shown.ringing == expected["ringing"]
    assert shown.talking == talking
    assert shown.abandon_percent == round(100 * recent["abandoned"] / recent["answered"], 1)
    assert shown.leads == statuses
    left = sum(statuses.get(s, 0) for s in ("new", "callback", "in_progress"))
    assert shown.leads_left == left


async def _preview_campaign(
    db: async_sessionmaker[AsyncSession], leads: int
) -> tuple[int, list[User]]:
    async with db() as session:
        campaign = await running_campaign(session, mode="preview")
        operators = [await add_operator(session, f"op{n}") for n in range(4)]
        for user in operators:
            session.add(CampaignOperator(campaign_id=campaign.id, user_id=user.id))
        for n in range(leads):
            await add_lead(session, campaign, f"+7495700{n:04d}")
        await session.commit()
        return campaign.id, operators


async def test_two_operators_never_see_the_same_lead(db: async_sessionmaker[AsyncSession]) -> None:
    campaign_id, operators = await _preview_campaign(db, leads=10)

    async def take(user: User) -> int | None:
        async with db() as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            lead = await preview.next_lead(session, campaign, user, NOW)
            await session.commit()
            return lead.id if lead else None

    shown: list[int | None] = []
    for _ in range(3):  # three rounds of four operators asking at the same moment
        shown += await asyncio.gather(*(take(user) for user in operators))
    taken = [lead for lead in shown if lead is not None]
    # each operator holds one lead until they dial or skip it: asking again shows it again
    assert len(set(taken)) == 4
    for n in range(len(operators)):
        assert shown[n] == shown[n + 4] == shown[n + 8]
    async with db() as session:
        holders = await session.execute(
            select(Lead.locked_by, func.count())
            .where(Lead.locked_by.is_not(None))
            .group_by(Lead.locked_by)
        )
        assert {holder: count for holder, count in holders} == {
            preview.holder(user): 1 for user in operators
        }


async def test_a_claim_left_alone_goes_back_after_the_hold(
    db: async_sessionmaker[AsyncSession],
) -> None:
    campaign_id, (anna, boris, *_) = await _preview_campaign(db, leads=1)
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        first = await preview.next_lead(session, campaign, anna, NOW)
        assert first is not None
        await session.commit()
        assert await preview.next_lead(session, campaign, boris, NOW + timedelta(minutes=9)) is None
        later = NOW + preview.PREVIEW_HOLD + timedelta(seconds=1)
        taken_over = await preview.next_lead(session, campaign, boris, later)
        assert taken_over is not None and taken_over.id == first.id
        assert taken_over.locked_by == preview.holder(boris)


async def test_a_lead_being_dialled_is_never_taken_back(
    db: async_sessionmaker[AsyncSession],
) -> None:
    campaign_id, (anna, boris, *_) = await _preview_campaign(db, leads=1)
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        lead = await preview.next_lead(session, campaign, anna, NOW)
        assert lead is not None
        attempt = await preview.prepare_dial(session, lead, campaign, anna, NOW)
        assert isinstance(attempt, CallAttempt)
        await session.commit()
        assert await preview.next_lead(session, campaign, boris, NOW + timedelta(hours=1)) is None


async def test_skip_gives_the_lead_back_for_later_with_the_reason(
    db: async_sessionmaker[AsyncSession],
) -> None:
    campaign_id, (anna, *_) = await _preview_campaign(db, leads=2)
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        client = Contact(display_name="Пропущенный")
        session.add(client)
        await session.flush()
        lead = await preview.next_lead(session, campaign, anna, NOW)
        assert lead is not None
        lead.contact_id = client.id
        with pytest.raises(FormInvalid) as caught:
            await preview.skip(session, lead, anna, "   ", NOW)
        assert "reason" in caught.value.errors
        await preview.skip(session, lead, anna, "Просил не звонить до весны", NOW)
        await session.commit()
        assert lead.status == LeadStatus.NEW and lead.locked_by is None
        assert lead.next_attempt_at == NOW + preview.SKIP_DELAY
        note = await session.scalar(select(Interaction).where(Interaction.contact_id == client.id))
        assert note is not None and note.summary == "Просил не звонить до весны"
        following = await preview.next_lead(session, campaign, anna, NOW)
        assert following is not None and following.id != lead.id


async def test_an_import_marks_the_clients_it_created(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db() as session:
        known = Contact(display_name="Уже был")
        session.add(known)
        await session.flush()
        session.add(ContactPhone(contact_id=known.id, raw="84950000001", e164="+74950000001"))
        job = ContactImport(file_name="list.csv")
        session.add(job)
        await session.commit()
        job_id, known_id = job.id, known.id
    csv = tmp_path / "list.csv"
    csv.write_text(
        "ФИО;Телефон\nНовый Один;84950000002\nУже был;84950000001\nНовый Два;84950000003\n"
    )
    report = await import_contacts(
        db, csv, {"ФИО": "full_name", "Телефон": "phone"}, region="RU", import_id=job_id
    )
    assert report.created == 2
    async with db() as session:
        marked = dict((await session.execute(select(Contact.id, Contact.import_id))).all())
    assert marked.pop(known_id) is None  # a duplicate row leaves the old client alone
    assert list(marked.values()) == [job_id, job_id]
