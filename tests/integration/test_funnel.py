"""The sales funnel on a real PostgreSQL: deals, stage moves, follow-ups, stage set-up."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings, database, funnel, pipeline
from callcenter.deal_board import deal_detail, list_deals
from callcenter.funnel import FunnelError, NewDeal, StageMove
from callcenter.migrate import downgrade, upgrade
from callcenter.models import (
    Contact,
    Deal,
    DealStageChange,
    Disposition,
    Interaction,
    PipelineStage,
    RefusalReason,
    Task,
    User,
)
from callcenter.tasks import TASK_ASSIGNED
from callcenter.users import add_user
from tests.integration.cti_helpers import RecordingNotifier, make_world

pytestmark = pytest.mark.db

WON_AT = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # already the 24th in Moscow


async def stage(session: AsyncSession, name: str) -> PipelineStage:
    found = await session.scalar(select(PipelineStage).where(PipelineStage.name == name))
    assert found is not None, name
    return found


async def reason(session: AsyncSession, name: str) -> RefusalReason:
    found = await session.scalar(select(RefusalReason).where(RefusalReason.name == name))
    assert found is not None, name
    return found


async def count(session: AsyncSession, model: type, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def new_deal(
    db: async_sessionmaker[AsyncSession], by: User, contact_id: int, **extra: Any
) -> int:
    async with db() as session:
        deal = await funnel.create_deal(
            session, NewDeal(title="Окна в офис", contact_id=contact_id, **extra), by
        )
        await session.commit()
        return deal.id


class CommitWitness(RecordingNotifier):
    """Notes, at the moment of each message, whether its task is visible to another
    connection, i.e. committed."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.database_url = database_url
        self.committed: list[bool] = []

    def publish(self, user_ids: Any, type_: str, payload: dict[str, Any]) -> None:
        async def probe() -> bool:
            engine = database.make_engine(self.database_url)
            try:
                async with engine.connect() as conn:
                    found = await conn.scalar(
                        text("SELECT count(*) FROM tasks WHERE id = :id"), {"id": payload["id"]}
                    )
                    return bool(found == 1)
            finally:
                await engine.dispose()

        seen: list[bool] = []
        thread = threading.Thread(target=lambda: seen.append(asyncio.run(probe())))
        thread.start()
        thread.join(10)
        self.committed.append(seen == [True])
        super().publish(user_ids, type_, payload)


async def test_fresh_database_has_the_default_funnel(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        stages = await pipeline.stages(session)
        reasons = {r.name for r in await pipeline.refusal_reasons(session)}
        codes = set(await session.scalars(select(Disposition.code)))
    assert [s.name for s in stages] == [
        "Новая заявка",
        "Квалификация",
        "Переговоры",
        "Счёт выставлен",
        "Успешно",
        "Отказ",
    ]
    assert [pipeline.kind_of(s).value for s in stages][-2:] == ["won", "lost"]
    assert {"Дорого", "Выбрали конкурента", "Не дозвонились"} <= reasons
    assert {"sale", "callback", "do_not_call"} <= codes


async def test_a_move_records_who_when_from_where_to_where(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    anna = world.operators["101"]
    deal_id = await new_deal(db, anna, world.contact_id, amount=Decimal("125000.50"))
    async with db() as session:
        target = await stage(session, "Переговоры")
        result = await funnel.move_deal(session, deal_id, StageMove(target.id), anna, WON_AT)
        await session.commit()
        assert result.moved and result.follow_up is None
        changes = list(
            await session.scalars(
                select(DealStageChange)
                .where(DealStageChange.deal_id == deal_id)
                .order_by(DealStageChange.id)
            )
        )
        first = await stage(session, "Новая заявка")
        timeline = list(
            await session.scalars(
                select(Interaction)
                .where(Interaction.deal_id == deal_id, Interaction.kind == "deal_change")
                .order_by(Interaction.id)
            )
        )
        deal = await session.get(Deal, deal_id)
    assert [(c.from_stage_id, c.to_stage_id, c.changed_by_id) for c in changes] == [
        (None, first.id, anna.id),
        (first.id, target.id, anna.id),
    ]
    assert changes[1].changed_at == WON_AT
    assert [t.payload for t in timeline] == [
        {"from": None, "to": "Новая заявка", "reason": None},
        {"from": "Новая заявка", "to": "Переговоры", "reason": None},
    ]
    assert timeline[1].contact_id == world.contact_id and timeline[1].author_id == anna.id
    assert deal is not None and deal.owner_id == anna.id and deal.closed_at is None
    assert deal.amount == Decimal("125000.50")


async def test_lost_needs_a_reason_and_nothing_changes_without_one(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    anna = world.operators["101"]
    deal_id = await new_deal(db, anna, world.contact_id)
    async with db() as session:
        lost = await stage(session, "Отказ")
        costly = await reason(session, "Дорого")
        gone = await pipeline.add_reason(session, "Закрылись", anna)
        await pipeline.set_reason_active(session, gone.id, False, anna)
        await session.commit()
    for bad_reason, field_error in [
        (None, "Choose why the client refused."),
        (gone.id, "No such refusal reason."),
        (999_999, "No such refusal reason."),
    ]:
        async with db() as session:
            with pytest.raises(FunnelError) as refused:
                await funnel.move_deal(session, deal_id, StageMove(lost.id, bad_reason), anna)
            await session.rollback()
        assert refused.value.fields == {"refusal_reason_id": field_error}
    async with db() as session:
        deal = await session.get(Deal, deal_id)
        assert deal is not None
        assert (deal.stage_id, deal.stage_is_lost, deal.refusal_reason_id) == (
            (await stage(session, "Новая заявка")).id,
            False,
            None,
        )
        assert await count(session, DealStageChange, DealStageChange.deal_id == deal_id) == 1
        assert await count(session, Interaction, Interaction.deal_id == deal_id) == 1

        result = await funnel.move_deal(session, deal_id, StageMove(lost.id, costly.id), anna)
        await session.commit()
    assert result.moved and result.follow_up is None
    async with db() as session:
        deal = await session.get(Deal, deal_id)
        detail = await deal_detail(session, anna, deal_id)
    assert deal is not None and deal.stage_is_lost and deal.refusal_reason_id == costly.id
    assert deal.closed_at is not None
    assert detail is not None and detail.card.refusal_reason == "Дорого"
    assert [(h.from_stage, h.to_stage, h.changed_by) for h in detail.history][-1] == (
        "Новая заявка",
        "Отказ",
        "Анна Смирнова",
    )


async def test_winning_schedules_one_follow_up_and_announces_it_after_commit(
    db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    world = await make_world(db)
    anna, dmitry = world.operators["101"], world.operators["102"]
    async with db() as session:
        await center_settings.save(session, "follow_up_days", 7, None)
        contact = await session.get(Contact, world.contact_id)
        assert contact is not None
        contact.status = "lead"
        await session.commit()
    deal_id = await new_deal(db, anna, world.contact_id)
    witness = CommitWitness(database_url)
    async with db() as session:
        won = await stage(session, "Успешно")
        result = await funnel.move_and_announce(
            session, witness, deal_id, StageMove(won.id), dmitry
        )
    assert result.moved and result.follow_up is not None
    assert witness.committed == [True]
    [(users, payload)] = witness.of_type(TASK_ASSIGNED)
    assert users == (anna.id,) and payload["id"] == result.follow_up.id

    async with db() as session:
        tasks = list(await session.scalars(select(Task).where(Task.deal_id == deal_id)))
        contact = await session.get(Contact, world.contact_id)
        deal = await session.get(Deal, deal_id)
    [task] = tasks
    assert (task.kind, task.title, task.assignee_id, task.created_by_id) == (
        "follow_up",
        "Как всё прошло?",
        anna.id,
        dmitry.id,
    )
    assert task.due_at is not None and deal is not None and deal.closed_at is not None
    local_due = task.due_at.astimezone(ZoneInfo("Europe/Moscow"))
    local_won = deal.closed_at.astimezone(ZoneInfo("Europe/Moscow"))
    assert local_due.date() == local_won.date() + timedelta(days=7)
    assert (local_due.hour, local_due.minute) == (11, 0)
    assert contact is not None and contact.status == "client"  # a lead that bought


async def test_winning_again_schedules_no_second_call_and_reopening_clears_closed_at(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    anna = world.operators["101"]
    deal_id = await new_deal(db, anna, world.contact_id)
    notifier = RecordingNotifier()
    async with db() as session:
        won = await stage(session, "Успешно")
        talks = await stage(session, "Переговоры")
    for target in (won, won, talks, won):
        async with db() as session:
            result = await funnel.move_and_announce(
                session, notifier, deal_id, StageMove(target.id), anna
            )
            deal = await session.get(Deal, deal_id)
            assert deal is not None
            assert (deal.closed_at is None) == (target is talks)
    async with db() as session:
        assert await count(session, Task, Task.deal_id == deal_id) == 1
        # the second "won" was already the deal's stage: nothing recorded
        assert await count(session, DealStageChange, DealStageChange.deal_id == deal_id) == 4
    assert len(notifier.of_type(TASK_ASSIGNED)) == 1
    assert result.moved and result.follow_up is None


async def test_without_an_owner_the_follow_up_goes_to_the_clients_manager(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)  # Иван Петров is managed by op102
    anna, dmitry = world.operators["101"], world.operators["102"]
    deal_id = await new_deal(db, anna, world.contact_id)
    async with db() as session:
        deal = await session.get(Deal, deal_id)
        assert deal is not None
        deal.owner_id = None
        await session.execute(
            update(User).where(User.id == dmitry.id).values(time_zone="Asia/Vladivostok")
        )
        await session.commit()
        won = await stage(session, "Успешно")
        result = await funnel.move_deal(session, deal_id, StageMove(won.id), anna, WON_AT)
        await session.commit()
    assert result.follow_up is not None and result.follow_up.assignee_id == dmitry.id
    due = result.follow_up.due_at
    assert due is not None
    # 15 days (the default) after the win, in the morning where Dmitry works
    assert due.astimezone(ZoneInfo("Asia/Vladivostok")) == datetime(
        2026, 12, 9, 11, 0, tzinfo=ZoneInfo("Asia/Vladivostok")
    )


async def test_new_deal_input_is_checked_field_by_field(
    db: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(FunnelError) as refused:
        funnel.read_new_deal(
            {"title": " ", "amount": "12,345", "currency": "рубли", "contact_id": "x"}
        )
    assert set(refused.value.fields) == {"title", "amount", "currency", "contact_id"}
    new = funnel.read_new_deal(
        {"title": "  Окна   в офис ", "amount": "12 500,50", "currency": "usd", "contact_id": "7"}
    )
    assert (new.title, new.amount, new.currency, new.contact_id) == (
        "Окна в офис",
        Decimal("12500.50"),
        "USD",
        7,
    )
    world = await make_world(db)
    anna = world.operators["101"]
    async with db() as session:
        won = await stage(session, "Успешно")
        bad = [
            (NewDeal(title="x", contact_id=999_999), "contact_id"),
            (NewDeal(title="x", contact_id=world.contact_id, stage_id=won.id), "stage_id"),
            # an operator opens deals for themselves only
            (
                NewDeal(title="x", contact_id=world.contact_id, owner_id=world.operators["102"].id),
                "owner_id",
            ),
        ]
        for new, field in bad:
            with pytest.raises(FunnelError) as refused:
                await funnel.create_deal(session, new, anna)
            assert list(refused.value.fields) == [field]
        assert await count(session, Deal) == 1  # make_world's own


async def test_an_operator_limited_to_own_clients_sees_only_their_deals(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)  # Иван Петров is managed by op102
    anna, dmitry = world.operators["101"], world.operators["102"]
    async with db() as session:
        boss = await add_user(
            session, login="boss", full_name="Босс", role="manager", password="correct-horse"
        )
        await session.commit()
    deal_id = await new_deal(db, boss, world.contact_id)
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, boss.id)
        await session.commit()
        assert await list_deals(session, anna) == []
        assert await deal_detail(session, anna, deal_id) is None
        assert deal_id in {d.id for d in await list_deals(session, dmitry)}
        assert deal_id in {d.id for d in await list_deals(session, boss, owner_id=boss.id)}
        with pytest.raises(FunnelError) as refused:
            await funnel.create_deal(
                session, NewDeal(title="чужой", contact_id=world.contact_id), anna
            )
        assert refused.value.fields == {"contact_id": "No such client."}


async def test_stage_set_up_rules(db: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(db)  # one deal in "Переговоры"
    admin = world.operators["101"]  # the web layer checks roles; the rules hold for anyone
    async with db() as session:
        talks = await stage(session, "Переговоры")
        extra = await pipeline.add_stage(session, "  Демонстрация ", "open", admin)
        assert (extra.name, extra.position) == ("Демонстрация", 6)
        for name in ("переговоры", ""):
            with pytest.raises(FunnelError):
                await pipeline.add_stage(session, name, "open", admin)
        with pytest.raises(FunnelError):
            await pipeline.add_stage(session, "Странный", "maybe", admin)

        await pipeline.rename_stage(session, extra.id, "Демо", admin)
        await pipeline.move_stage(session, extra.id, -1, admin)
        names = [s.name for s in await pipeline.stages(session)]
        assert names[-2:] == ["Демо", "Отказ"]

        # a stage deals sit in keeps its kind and cannot be deleted, only deactivated
        with pytest.raises(FunnelError, match="move them elsewhere"):
            await pipeline.set_stage_kind(session, talks.id, "lost", admin)
        with pytest.raises(FunnelError, match="deactivate it instead"):
            await pipeline.delete_stage(session, talks.id, admin)
        await pipeline.set_stage_active(session, talks.id, False, admin)
        await pipeline.set_stage_kind(session, extra.id, "won", admin)
        await pipeline.delete_stage(session, extra.id, admin)
        await session.commit()

        open_ids = [
            s.id
            for s in await pipeline.stages(session, active_only=True)
            if not (s.is_won or s.is_lost)
        ]
        for stage_id in open_ids[:-1]:
            await pipeline.set_stage_active(session, stage_id, False, admin)
        with pytest.raises(FunnelError, match="at least one active open stage"):
            await pipeline.set_stage_active(session, open_ids[-1], False, admin)
        await session.rollback()

    async with db() as session:
        stages = {s.name: s for s in await pipeline.stages(session)}
    assert "Демо" not in stages and not stages["Переговоры"].is_active
    assert stages["Новая заявка"].is_active  # the refused deactivations were rolled back


def test_downgrade_keeps_what_users_touched(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url)

    async def run(*statements: str) -> list[Any]:
        engine = database.make_engine(url)
        try:
            async with engine.begin() as conn:
                rows: list[Any] = []
                for sql in statements:
                    result = await conn.execute(text(sql))
                    rows = list(result.all()) if result.returns_rows else []
                return rows
        finally:
            await engine.dispose()

    asyncio.run(
        run(
            "UPDATE pipeline_stages SET name = 'Первый звонок' WHERE name = 'Новая заявка'",
            "INSERT INTO deals (title, stage_id, stage_is_lost)"
            " SELECT 'Сделка', id, false FROM pipeline_stages WHERE name = 'Переговоры'",
        )
    )
    downgrade(url, "0003")
    left = asyncio.run(run("SELECT name FROM pipeline_stages ORDER BY position"))
    assert [name for (name,) in left] == ["Первый звонок", "Переговоры"]
    assert asyncio.run(run("SELECT count(*) FROM refusal_reasons")) == [(0,)]
    upgrade(url)  # tables are not empty: nothing is added twice
    assert asyncio.run(run("SELECT count(*) FROM pipeline_stages")) == [(2,)]
    assert asyncio.run(run("SELECT count(*) FROM refusal_reasons")) == [(5,)]
