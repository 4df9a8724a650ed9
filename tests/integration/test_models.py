"""Constraints of the data model, exercised on a migrated PostgreSQL database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from callcenter.database import make_engine, make_sessionmaker
from callcenter.models import (
    Call,
    CallLeg,
    Contact,
    ContactPhone,
    Deal,
    Interaction,
    PipelineStage,
    RefusalReason,
    User,
)

pytestmark = pytest.mark.db


@pytest.fixture
async def sessions(migrated_template_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(migrated_template_url)
    # configured as the application configures it
    yield make_sessionmaker(engine)
    await engine.dispose()


def unique(prefix: str) -> str:
    """A value no other test uses: the database is shared by the whole session."""
    return f"{prefix}-{secrets.token_hex(6)}"


def unique_e164() -> str:
    return "+7999" + f"{secrets.randbelow(10**7):07d}"


async def test_second_phone_with_same_e164_is_rejected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    e164 = unique_e164()
    async with sessions() as session:
        first = Contact(display_name=unique("Иван"))
        first.phones = [ContactPhone(raw="8 (999) ...", e164=e164)]
        session.add(first)
        await session.commit()

        second = Contact(display_name=unique("Пётр"), phones=[ContactPhone(raw=e164, e164=e164)])
        session.add(second)
        with pytest.raises(IntegrityError, match="uq_contact_phones_e164"):
            await session.commit()


async def test_phone_must_be_e164(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(
            Contact(
                display_name=unique("x"),
                phones=[ContactPhone(raw="84951234567", e164="84951234567")],
            )
        )
        with pytest.raises(IntegrityError, match="ck_contact_phones_e164"):
            await session.commit()


async def test_second_call_with_same_linkedid_is_rejected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    linkedid = unique("1700000000.1")
    started = datetime.now(UTC)
    async with sessions() as session:
        call = Call(linkedid=linkedid, direction="inbound", started_at=started)
        call.legs = [CallLeg(uniqueid=linkedid, channel="PJSIP/trunk-00000001", kind="caller")]
        session.add(call)
        await session.commit()
        assert call.result == "in_progress"  # server default, read back without a lazy load

        session.add(Call(linkedid=linkedid, direction="inbound", started_at=started))
        with pytest.raises(IntegrityError, match="uq_calls_linkedid"):
            await session.commit()

    async with sessions() as session:
        loaded = await session.scalar(
            select(Call).where(Call.linkedid == linkedid).options(selectinload(Call.legs))
        )
        assert loaded is not None
        assert [leg.uniqueid for leg in loaded.legs] == [linkedid]


async def test_interaction_chain_reads_back(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        contact = Contact(first_name="Анна", last_name=unique("Смирнова"))
        session.add(contact)
        await session.flush()
        call = Interaction(
            contact_id=contact.id, kind="call", occurred_at=now, summary="входящий звонок"
        )
        session.add(call)
        await session.flush()
        task = Interaction(
            contact_id=contact.id,
            kind="task",
            occurred_at=now + timedelta(minutes=1),
            previous_interaction_id=call.id,
            payload={"due": "завтра"},
        )
        session.add(task)
        await session.flush()
        note = Interaction(
            contact_id=contact.id,
            kind="note",
            occurred_at=now + timedelta(minutes=2),
            previous_interaction_id=task.id,
        )
        session.add(note)
        await session.commit()
        contact_id, newest_id = contact.id, note.id

    async with sessions() as session:
        timeline = (
            await session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact_id)
                .order_by(Interaction.occurred_at.desc())
            )
        ).all()
        assert [i.kind for i in timeline] == ["note", "task", "call"]
        by_id = {i.id: i for i in timeline}
        chain, link = [], by_id[newest_id]
        while link is not None:
            chain.append(link.kind)
            link = by_id.get(link.previous_interaction_id or 0)
        assert chain == ["note", "task", "call"]
        assert by_id[timeline[1].id].payload == {"due": "завтра"}
        assert timeline[0].created_at is not None


async def test_refused_contact_needs_a_reason(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(Contact(display_name=unique("отказник"), status="refused"))
        with pytest.raises(IntegrityError, match="ck_contacts_refused_has_reason"):
            await session.commit()

    async with sessions() as session:
        reason = RefusalReason(name=unique("дорого"))
        session.add(reason)
        await session.flush()
        contact = Contact(
            display_name=unique("отказник"), status="refused", refusal_reason_id=reason.id
        )
        session.add(contact)
        await session.commit()
        assert contact.refusal_reason_id == reason.id


async def test_lost_deal_needs_a_reason(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        lost = PipelineStage(name=unique("Проиграна"), is_lost=True)
        reason = RefusalReason(name=unique("ушли к конкурентам"))
        session.add_all([lost, reason])
        await session.commit()
        lost_id, reason_id = lost.id, reason.id

    async with sessions() as session:
        # the copy of is_lost must agree with the stage
        session.add(Deal(title=unique("deal"), stage_id=lost_id, stage_is_lost=False))
        with pytest.raises(IntegrityError, match="fk_deals_stage_id_stage_is_lost_pipeline_stages"):
            await session.commit()

    async with sessions() as session:
        session.add(Deal(title=unique("deal"), stage_id=lost_id, stage_is_lost=True))
        with pytest.raises(IntegrityError, match="ck_deals_lost_has_reason"):
            await session.commit()

    async with sessions() as session:
        deal = Deal(
            title=unique("deal"), stage_id=lost_id, stage_is_lost=True, refusal_reason_id=reason_id
        )
        session.add(deal)
        await session.commit()
        assert deal.currency == "RUB"


async def test_login_is_unique_regardless_of_case(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    login = unique("Operator")
    async with sessions() as session:
        session.add(User(login=login, full_name="Оператор", password_hash="$argon2id$..."))
        await session.commit()

        session.add(User(login=login.upper(), full_name="Другой", password_hash="$argon2id$..."))
        with pytest.raises(IntegrityError, match="uq_users_login_lower"):
            await session.commit()


async def test_timestamps_are_read_back_without_lazy_loads(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Server-side defaults come back with RETURNING; an async session cannot lazy-load."""
    async with sessions() as session:
        contact = Contact(display_name=unique("клиент"))
        session.add(contact)
        await session.commit()
        assert contact.status == "lead"
        assert contact.tags == []
        assert contact.custom_fields == {}
        created = contact.created_at
        assert contact.updated_at == created

        contact.tags = ["vip"]
        await session.commit()
        assert contact.updated_at > created
        assert contact.created_at == created
