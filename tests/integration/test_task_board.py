"""An operator's day in their own time zone, and the team's load in one query."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings
from callcenter.models import Contact, Task, User
from callcenter.task_board import operator_day, team_load
from callcenter.users import add_user
from tests.integration.cti_helpers import make_world

pytestmark = pytest.mark.db

VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10, no daylight saving
MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3
# 13:00 in Vladivostok on 23 November; its day runs 22 Nov 14:00 - 23 Nov 14:00 UTC
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def titles(lines: list[object]) -> list[str]:
    return [line.title for line in lines]  # type: ignore[attr-defined]


async def add_tasks(session: AsyncSession, *tasks: Task) -> None:
    session.add_all(tasks)
    await session.commit()


async def test_the_day_of_a_vladivostok_operator(db: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(db)
    op, other = world.operators["101"], world.operators["102"]
    async with db() as session:
        await add_tasks(
            session,
            Task(title="23:59 накануне", assignee_id=op.id, due_at=at(22, 13, 59)),
            Task(title="00:30", assignee_id=op.id, due_at=at(22, 14, 30)),
            Task(
                title="23:59", assignee_id=op.id, due_at=at(23, 13, 59), contact_id=world.contact_id
            ),
            Task(title="00:00 завтра", assignee_id=op.id, due_at=at(23, 14, 0)),
            Task(title="без срока", assignee_id=op.id),
            Task(title="сделано сегодня", assignee_id=op.id, status="done", done_at=at(22, 15)),
            Task(title="сделано вчера", assignee_id=op.id, status="done", done_at=at(22, 13)),
            Task(title="отменено", assignee_id=op.id, status="cancelled", due_at=at(23, 1)),
            Task(title="чужое", assignee_id=other.id, due_at=at(23, 1)),
            Task(title="ничьё", assignee_id=None, due_at=at(23, 2)),
        )
        day = await operator_day(session, op, op.id, DAY, VLADIVOSTOK, NOW)
        # make_world's "Отправить КП" is nobody's and undated: today offers it too
        assert titles(day.agenda) == ["23:59 накануне", "00:30", "23:59"]
        assert [line.overdue for line in day.agenda] == [True, True, False]
        assert day.agenda[2].contact_name == "Петров Иван"
        assert titles(day.undated) == ["без срока"]
        assert titles(day.done) == ["сделано сегодня"]
        assert titles(day.unassigned) == ["ничьё", "Отправить КП"]

        # the same moments grouped by a Moscow day: 14:00 UTC is 17:00 on the 23rd there
        moscow = await operator_day(session, op, op.id, DAY, MOSCOW, NOW)
        assert titles(moscow.agenda) == ["23:59 накануне", "00:30", "23:59", "00:00 завтра"]
        assert titles(moscow.done) == []  # 15:00 UTC on the 22nd is 18:00 on the 22nd there
        moscow_before = await operator_day(session, op, op.id, DAY - timedelta(days=1), MOSCOW, NOW)
        assert titles(moscow_before.done) == ["сделано вчера", "сделано сегодня"]

        # another day: only its own tasks, nothing overdue carried in, nothing undated
        tomorrow = await operator_day(session, op, op.id, DAY + timedelta(days=1), VLADIVOSTOK, NOW)
        assert titles(tomorrow.agenda) == ["00:00 завтра"]
        assert tomorrow.undated == [] and tomorrow.unassigned == [] and tomorrow.done == []
        yesterday = await operator_day(
            session, op, op.id, DAY - timedelta(days=1), VLADIVOSTOK, NOW
        )
        assert titles(yesterday.agenda) == ["23:59 накануне"] and yesterday.agenda[0].overdue
        assert titles(yesterday.done) == ["сделано вчера"]


async def test_an_operator_limited_to_own_clients_sees_no_names_of_others(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)  # Петров Иван is op102's client
    op = world.operators["101"]
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, None)
        await add_tasks(
            session,
            Task(
                title="моё по чужому клиенту",
                assignee_id=op.id,
                due_at=at(23, 1),
                contact_id=world.contact_id,
            ),
        )
        day = await operator_day(session, op, op.id, DAY, MOSCOW, NOW)
        [mine] = day.agenda
        assert mine.contact_name is None and mine.contact_id is None
        assert day.unassigned == []  # "Отправить КП" belongs to a client op101 may not see
        contact = await session.get(Contact, world.contact_id)
        assert contact is not None
        contact.manager_id = op.id
        await session.commit()
        day = await operator_day(session, op, op.id, DAY, MOSCOW, NOW)
        assert day.agenda[0].contact_name == "Петров Иван"
        assert titles(day.unassigned) == ["Отправить КП"]


async def test_the_team_load_counts_each_operator_in_their_day(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    op101, op102 = world.operators["101"], world.operators["102"]
    async with db() as session:
        manager = await add_user(
            session, login="boss", full_name="Борис Босс", role="manager", password="correct-horse"
        )
        supervisor = await add_user(
            session, login="super", full_name="Света", role="supervisor", password="correct-horse"
        )
        gone = await add_user(
            session, login="gone", full_name="Уволен", role="operator", password="correct-horse"
        )
        gone.is_active = False
        await add_tasks(
            session,
            Task(title="a", assignee_id=op101.id, due_at=at(22, 10)),  # overdue, yesterday
            Task(title="b", assignee_id=op101.id, due_at=at(23, 2)),  # overdue, today
            Task(title="c", assignee_id=op101.id, due_at=at(23, 5)),  # due today, next
            Task(title="d", assignee_id=op101.id, due_at=at(25, 5)),  # later
            Task(title="e", assignee_id=op101.id),  # undated
            Task(title="f", assignee_id=op101.id, status="done", done_at=at(23, 1)),
            Task(title="g", assignee_id=op101.id, status="done", done_at=at(22, 12)),
            Task(title="h", assignee_id=op101.id, status="cancelled", due_at=at(23, 2)),
            Task(title="i", assignee_id=op102.id, due_at=at(24, 9)),
            Task(title="j", assignee_id=supervisor.id, due_at=at(23, 2)),
            Task(title="k", assignee_id=gone.id, due_at=at(23, 2)),
            Task(title="l", assignee_id=None, due_at=at(23, 2)),
        )
        load = await team_load(session, VLADIVOSTOK, NOW)
    rows = {row.full_name: row for row in load.people}
    assert list(rows) == ["Анна Смирнова", "Борис Босс", "Дмитрий Кузнецов"]
    anna = rows["Анна Смирнова"]
    assert (anna.open, anna.overdue, anna.due_today, anna.done_today) == (5, 2, 2, 1)
    assert anna.next_due == at(23, 5)
    dmitry = rows["Дмитрий Кузнецов"]
    assert (dmitry.open, dmitry.overdue, dmitry.due_today, dmitry.done_today) == (1, 0, 0, 0)
    assert dmitry.next_due == at(24, 9)
    boss = rows["Борис Босс"]
    assert (boss.open, boss.overdue, boss.next_due, boss.user_id) == (0, 0, None, manager.id)
    assert load.unassigned_open == 2  # "l" and make_world's "Отправить КП"


async def test_a_leader_reads_someone_elses_day(db: async_sessionmaker[AsyncSession]) -> None:
    world = await make_world(db)
    op = world.operators["101"]
    async with db() as session:
        boss: User = await add_user(
            session, login="boss", full_name="Босс", role="supervisor", password="correct-horse"
        )
        await add_tasks(session, Task(title="позвонить", assignee_id=op.id, due_at=at(23, 6)))
        day = await operator_day(session, boss, op.id, DAY, VLADIVOSTOK, NOW)
    assert titles(day.agenda) == ["позвонить"]
    assert day.unassigned == []  # offered on one's own page only
