"""The sales reports on a real PostgreSQL: how far the period's deals got along the
funnel and why the lost ones were lost, and what each ad channel brought.

Deals are opened and moved with the funnel's own functions, so their stage history is
what real use leaves behind; only the opening time is set back, into a past period.
Every figure expected here was counted by hand from the tables in each test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import ad_channels, funnel
from callcenter.client_merge import merge_contacts
from callcenter.funnel import NewDeal, StageMove
from callcenter.models import (
    Call,
    Company,
    Contact,
    DealStageChange,
    PipelineStage,
    RefusalReason,
    User,
)
from callcenter.report_period import Bucket, ReportPeriod
from callcenter.sales_reports import ChannelFigures, StageReach, channel_report, funnel_report
from callcenter.users import add_user

pytestmark = pytest.mark.db

MOSCOW = ZoneInfo("Europe/Moscow")
PERIOD = ReportPeriod(date(2026, 11, 10), date(2026, 11, 12), Bucket.DAY, MOSCOW)
# Moscow is UTC+3 all year: the 10th begins at 21:00 UTC on the 9th
START = datetime(2026, 11, 9, 21, tzinfo=UTC)
END = datetime(2026, 11, 12, 21, tzinfo=UTC)  # midnight of the 13th: the first moment out
BEFORE = START - timedelta(minutes=1)  # 23:59 on the 9th in Moscow
LAST = END - timedelta(seconds=1)  # 23:59:59 on the 12th in Moscow


def day(n: int, hour: int = 12) -> datetime:
    """Noon, Moscow time, on the n-th of November 2026."""
    return datetime(2026, 11, n, hour, tzinfo=MOSCOW).astimezone(UTC)


@dataclass(frozen=True)
class DealPlan:
    """A deal opened at ``opened`` (in ``start``, else the first stage), then moved."""

    opened: datetime
    moves: tuple[tuple[str, datetime, str | None], ...] = ()  # stage, when, refusal reason
    start: str | None = None
    amount: Decimal | None = None


async def sales_manager(session: AsyncSession) -> User:
    # a manager sees every client, so opening a deal for any of them is allowed
    return await add_user(
        session,
        login="sales",
        full_name="Ольга Морозова",
        role="manager",
        password="correct-horse",
    )


async def stage_ids(session: AsyncSession) -> dict[str, int]:
    return {s.name: s.id for s in await session.scalars(select(PipelineStage))}


async def reason_ids(session: AsyncSession) -> dict[str, int]:
    return {r.name: r.id for r in await session.scalars(select(RefusalReason))}


async def carry_out(
    session: AsyncSession,
    plan: DealPlan,
    by: User,
    *,
    contact_id: int | None,
    company_id: int | None = None,
) -> int:
    stages, reasons = await stage_ids(session), await reason_ids(session)
    deal = await funnel.create_deal(
        session,
        NewDeal(
            title="Окна в офис",
            contact_id=contact_id,
            amount=plan.amount,
            stage_id=stages[plan.start] if plan.start else None,
            company_id=company_id,
        ),
        by,
    )
    # create_deal stamps the deal and its first history entry with now(): move both
    # into the past period the data set lives in
    deal.created_at = plan.opened
    await session.execute(
        update(DealStageChange)
        .where(DealStageChange.deal_id == deal.id)
        .values(changed_at=plan.opened)
    )
    for stage, at, reason in plan.moves:
        move = StageMove(stages[stage], reasons[reason] if reason else None)
        result = await funnel.move_deal(session, deal.id, move, by, at)
        assert result.moved, (plan, stage)
    await session.flush()
    return deal.id


# the default funnel (migration 0004): positions 0 to 5
NEW, QUALIFY, TALKS, INVOICE, WON, LOST = (
    "Новая заявка",
    "Квалификация",
    "Переговоры",
    "Счёт выставлен",
    "Успешно",
    "Отказ",
)
PRICEY, RIVAL, UNREACHED = "Дорого", "Выбрали конкурента", "Не дозвонились"

FUNNEL_DEALS = {
    # opened in the period; the furthest open stage each got to, then where it is now
    "stays new, opened at the first moment": DealPlan(START),  # new; new
    "every stage in turn": DealPlan(
        day(10),
        (
            (QUALIFY, day(10, 13), None),
            (TALKS, day(10, 14), None),
            (INVOICE, day(11), None),
            (WON, day(11, 15), None),
        ),
    ),  # won; won
    "straight from new to won": DealPlan(day(10, 9), ((WON, day(12), None),)),  # won; won
    "invoiced, then back to talks": DealPlan(
        day(11), ((INVOICE, day(11, 13), None), (TALKS, day(12), None))
    ),  # invoice; talks
    "opened in talks": DealPlan(LAST, start=TALKS),  # talks; talks
    "qualified, lost as too dear": DealPlan(
        day(10), ((QUALIFY, day(10, 15), None), (LOST, day(11), PRICEY))
    ),  # qualify; lost
    "lost to a rival at once": DealPlan(day(12, 9), ((LOST, day(12, 10), RIVAL),)),  # new; lost
    "qualified, lost to a rival after the period": DealPlan(
        day(11), ((QUALIFY, day(11, 13), None), (LOST, END, RIVAL))
    ),  # qualify; lost
    "lost as too dear, then won after all": DealPlan(
        day(10), ((LOST, day(10, 15), PRICEY), (WON, day(11), None))
    ),  # won; won, and no longer a refusal
    # opened outside the period: their stages do not count, some of their refusals do
    "opened the minute before, won inside": DealPlan(BEFORE, ((WON, day(10), None),)),
    "opened before, lost inside as too dear": DealPlan(day(5), ((LOST, day(12), PRICEY),)),
    "opened before, lost before as unreached": DealPlan(day(5), ((LOST, day(6), UNREACHED),)),
    "opened at the first moment after": DealPlan(
        END, ((QUALIFY, day(13, 13), None), (INVOICE, day(14), None))
    ),
}


async def test_the_funnel_counts_how_far_the_periods_deals_got_and_why_they_were_lost(
    db: async_sessionmaker[AsyncSession],
) -> None:
    assert (PERIOD.start, PERIOD.end) == (START, END)
    async with db() as session:
        sales = await sales_manager(session)
        client = Contact(first_name="Иван", last_name="Петров")
        session.add(client)
        await session.flush()
        for plan in FUNNEL_DEALS.values():
            await carry_out(session, plan, sales, contact_id=client.id)
        await session.commit()
        stages = await stage_ids(session)
        report = await funnel_report(session, PERIOD)

    assert report.period == PERIOD
    assert report.opened == 9
    # furthest open stage of the nine: new 2, qualify 2, talks 1, invoice 1, won 3
    assert report.stages == [
        StageReach(stages[NEW], NEW, False, reached=9, now_here=1),
        StageReach(stages[QUALIFY], QUALIFY, False, reached=7, now_here=0),
        StageReach(stages[TALKS], TALKS, False, reached=5, now_here=2),
        StageReach(stages[INVOICE], INVOICE, False, reached=4, now_here=0),
        StageReach(stages[WON], WON, True, reached=3, now_here=3),
    ]
    assert [s.percent_of(report.opened) for s in report.stages] == [100.0, 77.8, 55.6, 44.4, 33.3]
    # lost in the period, whenever opened: one of the period's and one older deal as
    # too dear, one to a rival; the other rival and the unreached closed outside it, and
    # the deal won after all is no refusal now
    assert report.refusals == [(PRICEY, 2), (RIVAL, 1)]
    assert report.lost == 3


async def test_an_empty_period_has_every_open_stage_at_zero(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        sales = await sales_manager(session)
        client = Contact(first_name="Иван", last_name="Петров")
        session.add(client)
        await session.flush()
        await carry_out(
            session,
            FUNNEL_DEALS["opened the minute before, won inside"],
            sales,
            contact_id=client.id,
        )
        await session.commit()
        report = await funnel_report(
            session, ReportPeriod(date(2026, 11, 1), date(2026, 11, 2), Bucket.DAY, MOSCOW)
        )
    assert report.opened == 0 and report.lost == 0 and report.refusals == []
    assert [(s.name, s.reached, s.now_here) for s in report.stages] == [
        (name, 0, 0) for name in (NEW, QUALIFY, TALKS, INVOICE, WON)
    ]
    assert report.stages[0].percent_of(report.opened) is None


async def _channels_world(
    session: AsyncSession,
) -> tuple[User, dict[str, int], dict[str, int]]:
    sales = await sales_manager(session)
    channels = {
        name: (
            await ad_channels.save_channel(session, ad_channels.ChannelForm(name, None, None, None))
        ).id
        for name in ("Яндекс.Директ", "Радио", "Билборды")
    }
    numbers = {
        name: (await ad_channels.add_tracking_number(session, did, channels[name], name, "RU")).id
        for name, did in (
            ("Яндекс.Директ", "+74951110001"),
            ("Радио", "+74951110002"),
            ("Билборды", "+74951110003"),
        )
    }
    return sales, channels, numbers


async def test_each_channel_shows_its_calls_new_clients_and_won_deals(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        sales, channels, numbers = await _channels_world(session)
        direct, radio = channels["Яндекс.Директ"], channels["Радио"]
        calls = [
            # (direction, tracking number, started)
            ("inbound", "Яндекс.Директ", START),
            ("inbound", "Яндекс.Директ", day(11)),
            ("inbound", "Яндекс.Директ", LAST),
            ("inbound", "Яндекс.Директ", BEFORE),  # out
            ("inbound", "Радио", day(12)),
            ("inbound", "Радио", END),  # out
            ("inbound", "Билборды", day(9)),  # out: the billboards had a quiet period
            ("inbound", None, day(10)),  # an untracked number
            ("inbound", None, day(12, 20)),
            ("outbound", None, day(11)),  # the center dialling out: no channel's doing
            ("outbound", None, day(12)),
        ]
        session.add_all(
            Call(
                linkedid=f"17000000{n:02}.1",
                direction=direction,
                caller_e164=f"+7916000{n:04}",
                tracking_number_id=numbers[number] if number else None,
                started_at=at,
                ended_at=at + timedelta(minutes=3),
                result="answered",
            )
            for n, (direction, number, at) in enumerate(calls)
        )
        contacts = {
            # name: (first channel, created)
            "Анна": (direct, day(10)),
            "Борис": (direct, START),
            "Борис (дубль)": (direct, day(11)),  # merged into Борис below: not a new client
            "Вера": (direct, day(1)),  # came before the period
            "Глеб": (radio, LAST),
            "Дарья": (radio, END),  # out
            "Егор": (None, day(12)),  # no channel known
        }
        ids: dict[str, int] = {}
        for name, (channel, created) in contacts.items():
            contact = Contact(display_name=name, ad_channel_id=channel, created_at=created)
            session.add(contact)
            await session.flush()
            ids[name] = contact.id
        deals = [
            # (client, plan); won inside the period unless said
            ("Анна", DealPlan(day(9), ((WON, START, None),), amount=Decimal("1000.50"))),
            ("Анна", DealPlan(day(2), ((WON, day(2, 13), None),), amount=Decimal(9))),  # before
            ("Анна", DealPlan(day(10), ((WON, END, None),), amount=Decimal(9))),  # after
            ("Борис (дубль)", DealPlan(day(1), ((WON, day(11), None),), amount=Decimal(200))),
            ("Вера", DealPlan(day(1), ((INVOICE, day(2), None), (WON, day(12), None)))),  # no sum
            ("Глеб", DealPlan(day(10), ((WON, day(11), None),), amount=Decimal(5000))),
            ("Глеб", DealPlan(day(10), ((LOST, day(11), PRICEY),), amount=Decimal(9))),  # lost
            (
                "Глеб",
                DealPlan(
                    day(10), ((WON, day(11), None), (TALKS, day(12), None)), amount=Decimal(9)
                ),
            ),  # reopened: no longer won
            ("Егор", DealPlan(day(11), ((WON, day(12), None),), amount=Decimal(300))),
        ]
        for name, plan in deals:
            await carry_out(session, plan, sales, contact_id=ids[name])
        # the deals of the duplicate follow it to Борис, a Yandex client too
        await merge_contacts(session, ids["Борис"], ids["Борис (дубль)"], sales)
        await session.commit()
        report = await channel_report(session, PERIOD)

    assert report == [
        ChannelFigures(direct, "Яндекс.Директ", 3, 2, 3, Decimal("1200.50")),
        ChannelFigures(radio, "Радио", 1, 1, 1, Decimal(5000)),
        ChannelFigures(channels["Билборды"], "Билборды", 0, 0, 0, Decimal(0)),
        ChannelFigures(None, None, 2, 1, 1, Decimal(300)),
    ]


async def test_a_won_deal_of_a_company_alone_counts_under_no_channel(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        sales, channels, _ = await _channels_world(session)
        company = Company(name="ООО «Ромашка»")
        session.add(company)
        await session.flush()
        await carry_out(
            session,
            DealPlan(day(10), ((WON, day(11), None),), amount=Decimal(700)),
            sales,
            contact_id=None,
            company_id=company.id,
        )
        await session.commit()
        report = await channel_report(session, PERIOD)
    assert [r for r in report if r.channel_id is None] == [
        ChannelFigures(None, None, 0, 0, 1, Decimal(700))
    ]
    assert sum(r.won_deals for r in report) == 1
    assert {r.name for r in report if r.channel_id is not None} == set(channels)
