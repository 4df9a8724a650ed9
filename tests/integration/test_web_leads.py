"""Web-form leads on a real PostgreSQL: matching the contact, the channel, the manager."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import web_form_sites
from callcenter.models import (
    AdChannel,
    Contact,
    ContactEmail,
    ContactPhone,
    Interaction,
    Task,
    User,
    WebFormSite,
)
from callcenter.tasks import TASK_ASSIGNED
from callcenter.users import add_user
from callcenter.web_leads import (
    LeadError,
    LeadOutcome,
    demo_web_forms,
    parse_lead,
    receive_lead,
)
from tests.integration.cti_helpers import RecordingNotifier, make_world

pytestmark = pytest.mark.db


async def add_site(db: async_sessionmaker[AsyncSession], channel: str | None = "Сайт") -> int:
    async with db() as session:
        channel_id = None
        if channel:
            row = AdChannel(name=channel)
            session.add(row)
            await session.flush()
            channel_id = row.id
        site, _ = await web_form_sites.add_site(session, "okna.example.ru", channel_id)
        await session.commit()
        return site.id


async def add_managers(
    db: async_sessionmaker[AsyncSession], *logins: str, on_duty: bool = True
) -> list[int]:
    ids = []
    async with db() as session:
        for login in logins:
            user = await add_user(
                session, login=login, full_name=login, role="manager", password="correct-horse"
            )
            user.is_on_duty = on_duty
            ids.append(user.id)
        await session.commit()
    return ids


async def send(
    db: async_sessionmaker[AsyncSession],
    site_id: int,
    notifier: RecordingNotifier | None = None,
    **fields: Any,
) -> LeadOutcome:
    lead = parse_lead(fields, "RU")
    return await receive_lead(db, notifier or RecordingNotifier(), site_id, lead)


async def channel_of(db: async_sessionmaker[AsyncSession], contact_id: int) -> str | None:
    async with db() as session:
        name: str | None = await session.scalar(
            select(AdChannel.name)
            .join(Contact, Contact.ad_channel_id == AdChannel.id)
            .where(Contact.id == contact_id)
        )
        return name


def test_a_lead_needs_a_phone_or_an_email_and_bounded_text() -> None:
    with pytest.raises(LeadError) as nothing:
        parse_lead({"name": "Иван", "message": "перезвоните"}, "RU")
    assert set(nothing.value.errors) == {"phone", "email"}
    with pytest.raises(LeadError) as bad:
        parse_lead(
            {
                "phone": "call me",
                "email": "ivan@",
                "name": "И" * 201,
                "message": 5,
                "utm_source": "a\x00b",
                "page": "javascript:alert(1)",
            },
            "RU",
        )
    assert bad.value.errors == {
        "phone": "not a phone number",
        "email": "not an e-mail address",
        "name": "at most 200 characters",
        "message": "expected text",
        "utm_source": "contains a NUL character",
        "page": "expected an http(s) address",
    }
    lead = parse_lead({"email": " Ivan@Example.RU ", "comment": "нужен замер"}, "RU")
    assert (lead.email, lead.message, lead.e164) == ("ivan@example.ru", "нужен замер", None)
    assert parse_lead({"phone": 84951234567}, "RU").e164 == "+74951234567"


async def test_a_lead_with_a_known_phone_in_another_format_goes_to_that_client(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)  # Петров Иван, +74951234567, managed by op102
    site_id = await add_site(db)
    notifier = RecordingNotifier()
    outcome = await send(
        db,
        site_id,
        notifier,
        name="Иван",
        phone="8 (495) 123-45-67",
        email="Petrov@Romashka.RU",
        message="Хочу ещё два окна",
        page="https://okna.example.ru/prices?utm_source=x",
        utm_source="newsletter",
    )
    assert outcome.contact_id == world.contact_id and not outcome.new_contact
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 1
        emails = list(await session.scalars(select(ContactEmail.email)))
        assert emails == ["petrov@romashka.ru"]  # the new e-mail is kept with the client
        entry = await session.scalar(select(Interaction).where(Interaction.kind == "web_form"))
        task = await session.get(Task, outcome.task_id)
    assert entry is not None and task is not None
    assert entry.contact_id == world.contact_id and entry.task_id == task.id
    assert entry.payload["site"] == "okna.example.ru"
    assert entry.payload["utm"] == {"utm_source": "newsletter"}
    assert entry.payload["page"] == "https://okna.example.ru/prices?utm_source=x"
    assert entry.payload["message"] == "Хочу ещё два окна"
    assert (task.kind, task.status, task.contact_id) == ("callback", "open", world.contact_id)
    assert task.due_at is not None and "Иван" in task.title
    # the client's personal manager gets it (an operator here), and hears of it live
    assert task.assignee_id == world.operators["102"].id
    [(users, payload)] = notifier.of_type(TASK_ASSIGNED)
    assert users == (world.operators["102"].id,) and payload["id"] == task.id


async def test_a_lead_matches_an_email_whatever_its_case_and_follows_a_merge(
    db: async_sessionmaker[AsyncSession],
) -> None:
    site_id = await add_site(db)
    async with db() as session:
        kept = Contact(display_name="Сидорова Анна")
        duplicate = Contact(display_name="Анна С.")
        session.add_all([kept, duplicate])
        await session.flush()
        duplicate.merged_into_id = kept.id
        session.add(ContactEmail(contact_id=duplicate.id, email="anna@example.ru"))
        await session.commit()
    outcome = await send(db, site_id, email="ANNA@Example.ru", phone="+7 916 555-44-33")
    assert outcome.contact_id == kept.id and not outcome.new_contact
    async with db() as session:
        phone = await session.scalar(
            select(ContactPhone).where(ContactPhone.e164 == "+79165554433")
        )
    assert phone is not None and phone.contact_id == kept.id


async def test_a_new_contact_keeps_its_first_channel_and_utm_beats_the_site(
    db: async_sessionmaker[AsyncSession],
) -> None:
    site_id = await add_site(db, "Сайт")
    async with db() as session:
        session.add_all(
            [
                AdChannel(name="Яндекс", utm_source="yandex"),
                AdChannel(name="Яндекс Директ", utm_source="yandex", utm_medium="cpc"),
                AdChannel(name="Старая кампания", utm_source="yandex", is_active=False),
                AdChannel(name="Google", utm_source="google"),
            ]
        )
        await session.commit()
    first = await send(
        db, site_id, phone="+79161112233", utm_source="Yandex", utm_medium="cpc", utm_term="окна"
    )
    assert first.new_contact
    assert await channel_of(db, first.contact_id) == "Яндекс Директ"  # the most specific
    again = await send(db, site_id, phone="89161112233", utm_source="google")
    assert (again.contact_id, again.new_contact) == (first.contact_id, False)
    assert await channel_of(db, first.contact_id) == "Яндекс Директ"  # the first one stays
    assert again.ad_channel_id is not None  # ...while the lead itself is Google's
    plain = await send(db, site_id, email="new@example.ru")
    assert await channel_of(db, plain.contact_id) == "Сайт"
    other = await send(db, site_id, email="other@example.ru", utm_source="yandex", utm_medium="seo")
    assert await channel_of(db, other.contact_id) == "Яндекс"
    async with db() as session:
        contact = await session.get(Contact, plain.contact_id)
    assert contact is not None and contact.display_name == "new@example.ru"
    assert contact.status == "lead"


async def test_leads_go_round_the_managers_on_duty_in_turn(
    db: async_sessionmaker[AsyncSession],
) -> None:
    site_id = await add_site(db)
    first, second = await add_managers(db, "volkov", "zaitseva")
    (resting,) = await add_managers(db, "orlov", on_duty=False)
    (gone,) = await add_managers(db, "sokolov")
    async with db() as session:
        await session.execute(update(User).where(User.id == gone).values(is_active=False))
        await session.commit()
    assignees = []
    for n in range(5):
        outcome = await send(db, site_id, phone=f"+7916000000{n}")
        assignees.append(outcome.assignee_id)
    assert assignees == [first, second, first, second, first]
    assert resting not in assignees and gone not in assignees
    # the one back on duty has had no lead for the longest time: the next is theirs
    async with db() as session:
        await session.execute(update(User).where(User.id == resting).values(is_on_duty=True))
        await session.commit()
    assert (await send(db, site_id, phone="+79160000009")).assignee_id == resting


async def test_a_lead_waits_unassigned_when_no_manager_is_on_duty(
    db: async_sessionmaker[AsyncSession],
) -> None:
    site_id = await add_site(db)
    await add_managers(db, "volkov", on_duty=False)
    notifier = RecordingNotifier()
    outcome = await send(db, site_id, notifier, phone="+79160000001")
    assert outcome.assignee_id is None
    assert notifier.messages == []  # shown on page loads, nobody to push it to


async def test_concurrent_leads_are_shared_between_the_managers(
    db: async_sessionmaker[AsyncSession],
) -> None:
    site_id = await add_site(db)
    managers = await add_managers(db, "volkov", "zaitseva")
    outcomes = await asyncio.gather(
        *(send(db, site_id, phone=f"+7916111000{n}") for n in range(8)),
        # the same new number twice at once: one contact, not a duplicate-key failure
        send(db, site_id, phone="+79162220000"),
        send(db, site_id, phone="8 916 222-00-00"),
    )
    assert Counter(o.assignee_id for o in outcomes) == {managers[0]: 5, managers[1]: 5}
    assert outcomes[-1].contact_id == outcomes[-2].contact_id
    assert sorted(o.new_contact for o in outcomes[-2:]) == [False, True]


async def test_site_tokens_are_stored_hashed_rotated_and_deactivated(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        site, token = await web_form_sites.add_site(session, "okna.example.ru", None)
        await session.commit()
        stored = await session.scalar(select(WebFormSite.token_hash))
        assert stored == web_form_sites.token_hash(token) and token not in str(stored)
        assert (await web_form_sites.site_for_token(session, token)) is site
        with pytest.raises(web_form_sites.SiteError):
            await web_form_sites.add_site(session, "okna.example.ru", None)
        _, new_token = await web_form_sites.rotate_token(session, site.id)
        await session.commit()
        assert await web_form_sites.site_for_token(session, token) is None
        assert await web_form_sites.site_for_token(session, new_token) is site
        await web_form_sites.deactivate_site(session, site.id)
        await session.commit()
        assert await web_form_sites.site_for_token(session, new_token) is None
        assert await web_form_sites.site_for_token(session, "") is None


async def test_the_demo_has_a_web_form_site_whose_token_works(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        token = await demo_web_forms(session)
        await session.commit()
        again = await demo_web_forms(session)  # a second run replaces the token
        await session.commit()
        assert await web_form_sites.site_for_token(session, token) is None
        site = await web_form_sites.site_for_token(session, again)
        assert site is not None and site.ad_channel_id is not None
    outcome = await send(db, site.id, phone="+79160000001", utm_source="yandex", utm_medium="cpc")
    assert await channel_of(db, outcome.contact_id) == "Яндекс.Директ"
