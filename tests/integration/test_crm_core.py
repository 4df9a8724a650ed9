"""The pieces every CRM page stands on: center settings, client visibility, audit, tasks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import audit, center_settings
from callcenter.access import may_see_contact, visible_contacts
from callcenter.models import AuditEntry, Contact, Interaction, TaskKind
from callcenter.tasks import TASK_ASSIGNED, NewTask, add_task, announce, task_payload
from callcenter.users import add_user
from tests.integration.cti_helpers import RecordingNotifier, make_world

pytestmark = pytest.mark.db


async def test_center_settings_default_store_and_refuse_nonsense(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        assert (await center_settings.load(session)).follow_up_days == 15
        await center_settings.save(session, "follow_up_days", 30, None)
        await center_settings.save(session, "follow_up_days", 7, None)  # overwrites
        for name, value in [("follow_up_days", 0), ("follow_up_days", "7"), ("nope", 1)]:
            with pytest.raises(center_settings.SettingError):
                await center_settings.save(session, name, value, None)
        await session.commit()
    async with db() as session:
        assert (await center_settings.load(session)).follow_up_days == 7


async def test_operators_may_be_limited_to_their_own_clients(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)  # Иван Петров is managed by op102
    async with db() as session:
        manager = await add_user(
            session, login="boss", full_name="Босс", role="manager", password="correct-horse"
        )
        contact = await session.get(Contact, world.contact_id)
        assert contact is not None
        op101, op102 = world.operators["101"], world.operators["102"]

        async def visible(user_id: int) -> list[int]:
            user = {op101.id: op101, op102.id: op102, manager.id: manager}[user_id]
            clause = await visible_contacts(session, user)
            return list(await session.scalars(select(Contact.id).where(clause)))

        assert await visible(op101.id) == [contact.id]
        await center_settings.save(session, "operators_see_own_clients_only", True, manager.id)
        assert await visible(op101.id) == []
        assert await visible(op102.id) == [contact.id]
        assert await visible(manager.id) == [contact.id]
        assert not await may_see_contact(session, op101, contact)
        assert await may_see_contact(session, op102, contact)


async def test_audit_entries_go_with_the_transaction_and_refuse_bad_actions(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    reader = world.operators["101"]
    async with db() as session:
        await audit.record(session, reader, "contact.read", "contact", world.contact_id, "10.0.0.5")
        await session.rollback()  # the read failed: nothing claims it happened
        await audit.record(session, reader, "contact.read", "contact", world.contact_id, "10.0.0.5")
        await session.commit()
        entries = list(await session.scalars(select(AuditEntry)))
        assert [(e.actor_id, e.action, e.entity_id, str(e.ip)) for e in entries] == [
            (reader.id, "contact.read", str(world.contact_id), "10.0.0.5")
        ]
        await audit.record(session, reader, "Contact Read")
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_a_task_lands_on_the_timeline_and_its_assignee_hears_of_it(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    assignee = world.operators["102"]
    due = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    notifier = RecordingNotifier()
    async with db() as session:
        task = await add_task(
            session,
            NewTask(
                kind=TaskKind.CALLBACK,
                title="Перезвонить по счёту",
                assignee_id=assignee.id,
                contact_id=world.contact_id,
                due_at=due,
            ),
        )
        await session.commit()
        payload = await task_payload(session, task)
        announce(notifier, payload)
        entry = await session.scalar(select(Interaction).where(Interaction.task_id == task.id))
    assert task.remind_at == due  # reminded at the due time unless told otherwise
    assert entry is not None and entry.kind == "task" and entry.contact_id == world.contact_id
    assert notifier.of_type(TASK_ASSIGNED) == [((assignee.id,), payload)]
    assert payload["contact_name"] == "Петров Иван"
    assert payload["due_at"] == due.isoformat()
