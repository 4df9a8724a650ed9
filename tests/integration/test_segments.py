"""Segments against a small, known client base: every filter kind, paging, dial lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings, segments
from callcenter.models import (
    AdChannel,
    Call,
    Campaign,
    Contact,
    ContactPhone,
    Deal,
    DoNotCall,
    Interaction,
    Lead,
    PipelineStage,
    Segment,
    User,
)
from callcenter.segments import FilterError, SegmentFilter
from callcenter.users import add_user

pytestmark = pytest.mark.db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Base:
    """Who is who: contacts by a short key, so each test names what it expects."""

    ids: dict[str, int] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)

    def keys(self, contact_ids: list[int]) -> set[str]:
        names = {v: k for k, v in self.ids.items()}
        return {names[i] for i in contact_ids}


async def make_base(db: async_sessionmaker[AsyncSession]) -> Base:
    base = Base()
    async with db() as session:
        for login, role in (
            ("boss", "manager"),
            ("super", "supervisor"),
            ("op1", "operator"),
            ("op2", "operator"),
        ):
            base.users[login] = await add_user(
                session, login=login, full_name=login.title(), role=role, password="correct-horse"
            )
        for name in ("Яндекс", "Авито"):
            channel = AdChannel(name=name)
            session.add(channel)
            await session.flush()
            base.channels[name] = channel.id
        for position, name in enumerate(("Переговоры", "Счёт выставлен"), 100):
            stage = PipelineStage(name=f"{name} (тест)", position=position)
            session.add(stage)
            await session.flush()
            base.stages[name] = stage.id

        async def contact(key: str, phones: tuple[str, ...] = (), **values: Any) -> Contact:
            row = Contact(**values)
            session.add(row)
            await session.flush()
            for e164 in phones:
                session.add(ContactPhone(contact_id=row.id, raw=e164, e164=e164))
            base.ids[key] = row.id
            return row

        anna = await contact(
            "anna",
            ("+74951234567", "+79161234567"),
            last_name="Смирнова",
            first_name="Анна",
            status="client",
            region="Москва",
            time_zone="Europe/Moscow",
            ad_channel_id=base.channels["Яндекс"],
            tags=["vip", "b2b"],
            manager_id=base.users["op1"].id,
        )
        await contact(
            "boris",
            ("+73831234567",),
            display_name="Борис",
            status="lead",
            region="Новосибирская область",
            time_zone="Asia/Novosibirsk",
            ad_channel_id=base.channels["Авито"],
            tags=["b2b"],
            manager_id=base.users["op2"].id,
        )
        await contact("vera", display_name="Вера", status="lead")
        await contact(
            "gleb",
            ("+74997770000", "+74997770001"),
            display_name="Глеб",
            status="client",
            region="москва",
            time_zone="Europe/Moscow",
            tags=["vip"],
        )
        await contact("dina", ("+74997770002",), display_name="Дина", status="lead")
        # a merged-away duplicate matches almost everything, and must never be listed
        await contact(
            "twin",
            ("+74950000001",),
            display_name="Анна (дубль)",
            status="client",
            region="Москва",
            time_zone="Europe/Moscow",
            ad_channel_id=base.channels["Яндекс"],
            tags=["vip", "b2b"],
            manager_id=base.users["op1"].id,
            merged_into_id=anna.id,
        )
        await session.flush()
        session.add_all(
            [
                Interaction(
                    contact_id=base.ids["anna"],
                    kind="note",
                    occurred_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC),
                ),
                Call(
                    linkedid="seg.1",
                    direction="inbound",
                    contact_id=base.ids["boris"],
                    started_at=datetime(2026, 5, 25, 9, 0, tzinfo=UTC),
                ),
                # Глеб: an old note and a newer call; the call is his last contact
                Interaction(
                    contact_id=base.ids["gleb"],
                    kind="note",
                    occurred_at=datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
                ),
                Call(
                    linkedid="seg.2",
                    direction="outbound",
                    contact_id=base.ids["gleb"],
                    started_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC),
                ),
                Interaction(
                    contact_id=base.ids["twin"],
                    kind="note",
                    occurred_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC),
                ),
                Deal(contact_id=base.ids["anna"], title="Окна", stage_id=base.stages["Переговоры"]),
                Deal(
                    contact_id=base.ids["vera"],
                    title="Двери",
                    stage_id=base.stages["Счёт выставлен"],
                ),
                Deal(contact_id=base.ids["twin"], title="Окна", stage_id=base.stages["Переговоры"]),
                DoNotCall(e164="+74997770000", reason="просил не звонить"),
                DoNotCall(e164="+74997770002"),
            ]
        )
        await session.commit()
    return base


async def matching(
    db: async_sessionmaker[AsyncSession], base: Base, filters: dict[str, Any], who: str = "boss"
) -> set[str]:
    segment = SegmentFilter.from_json(filters)
    async with db() as session:
        user = base.users[who]
        listed = await segments.list_clients(session, user, segment, now=NOW)
        count = await segments.count_clients(session, user, segment, now=NOW)
    assert count == len(listed)
    return base.keys([client.contact_id for client in listed])


async def test_each_filter_kind_finds_exactly_its_clients(
    db: async_sessionmaker[AsyncSession],
) -> None:
    base = await make_base(db)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, {"anna", "boris", "vera", "gleb", "dina"}),
        ({"statuses": ["client"]}, {"anna", "gleb"}),
        ({"statuses": ["lead", "refused"]}, {"boris", "vera", "dina"}),
        ({"region": "МОСКВА"}, {"anna", "gleb"}),  # a region is matched whatever its case
        ({"time_zone": "Asia/Novosibirsk"}, {"boris"}),
        ({"ad_channel_ids": [base.channels["Яндекс"]]}, {"anna"}),
        ({"ad_channel_ids": list(base.channels.values())}, {"anna", "boris"}),
        ({"tags": ["vip", "b2b"]}, {"anna", "boris", "gleb"}),
        ({"tags": "vip, b2b", "tags_match": "all"}, {"anna"}),
        ({"manager_ids": [base.users["op2"].id]}, {"boris"}),
        ({"deal_stage_ids": [base.stages["Переговоры"]]}, {"anna"}),
        ({"deal_stage_ids": list(base.stages.values())}, {"anna", "vera"}),
        # last contacts: Анна 10 Jan (note), Глеб 1 Feb (call, newer than his note), Борис 25 May
        ({"last_contact_from": "2026-02-01"}, {"gleb", "boris"}),
        ({"last_contact_before": "2026-02-01"}, {"anna"}),
        (
            {"last_contact_from": "2026-01-01", "last_contact_before": "2026-03-01"},
            {"anna", "gleb"},
        ),
        # no contact for 30 days before 1 June: the never-contacted too
        ({"no_contact_days": 30}, {"anna", "gleb", "vera", "dina"}),
        ({"no_contact_days": "200"}, {"vera", "dina"}),
        ({"statuses": ["client"], "tags": ["vip"], "region": "москва"}, {"anna", "gleb"}),
        ({"statuses": ["client"], "last_contact_from": "2026-01-20"}, {"gleb"}),
    ]
    for filters, expected in cases:
        assert await matching(db, base, filters) == expected, filters


async def test_an_operator_limited_to_own_clients_sees_only_those(
    db: async_sessionmaker[AsyncSession],
) -> None:
    base = await make_base(db)
    assert await matching(db, base, {"tags": ["b2b"]}, who="op1") == {"anna", "boris"}
    async with db() as session:
        await center_settings.save(session, "operators_see_own_clients_only", True, None)
        await session.commit()
    assert await matching(db, base, {"tags": ["b2b"]}, who="op1") == {"anna"}
    assert await matching(db, base, {"tags": ["b2b"]}, who="super") == {"anna", "boris"}


async def test_bad_filters_are_refused_field_by_field() -> None:
    with pytest.raises(FilterError) as refused:
        SegmentFilter.from_json(
            {
                "statuses": ["vip"],
                "time_zone": "Mars/Olympus",
                "manager_ids": ["x"],
                "last_contact_from": "31.12.2026",
                "no_contact_days": 0,
                "tags_match": "some",
                "colour": "red",
            }
        )
    assert set(refused.value.fields) == {
        "statuses",
        "time_zone",
        "manager_ids",
        "last_contact_from",
        "no_contact_days",
        "tags_match",
        "colour",
    }
    with pytest.raises(FilterError) as backwards:
        SegmentFilter.from_json(
            {"last_contact_from": "2026-03-01", "last_contact_before": "2026-02-01"}
        )
    assert set(backwards.value.fields) == {"last_contact_before"}
    with pytest.raises(FilterError):
        SegmentFilter.from_json(["not", "an", "object"])
    stored = SegmentFilter.from_json({"tags": " vip , vip,b2b", "manager_ids": ["3", 3]})
    assert stored.as_json() == {"tags": ["vip", "b2b"], "tags_match": "any", "manager_ids": [3]}
    assert SegmentFilter.from_json(stored.as_json()) == stored


async def test_segments_are_saved_renamed_and_deleted_with_unique_names(
    db: async_sessionmaker[AsyncSession],
) -> None:
    base = await make_base(db)
    boss = base.users["boss"]
    vip = SegmentFilter.from_json({"tags": ["vip"]})
    async with db() as session:
        saved = await segments.save_segment(session, boss, "  VIP   Москва ", vip)
        await session.commit()
        assert saved.name == "VIP Москва" and saved.filters == vip.as_json()
        with pytest.raises(FilterError) as taken:
            await segments.save_segment(session, boss, "vip москва", SegmentFilter())
        assert set(taken.value.fields) == {"name"}
        with pytest.raises(FilterError):
            await segments.save_segment(session, boss, "   ", SegmentFilter())
        leads = SegmentFilter.from_json({"statuses": ["lead"]})
        renamed = await segments.save_segment(session, boss, "Лиды", leads, saved)
        await session.commit()
        assert renamed.id == saved.id
        assert segments.stored_filter(renamed) == leads
        await segments.delete_segment(session, renamed)
        await session.commit()
        assert list(await session.scalars(select(Segment))) == []


async def test_pages_follow_on_by_the_last_id(db: async_sessionmaker[AsyncSession]) -> None:
    base = await make_base(db)
    everyone = SegmentFilter()
    seen: list[int] = []
    after = 0
    async with db() as session:
        while page := await segments.list_clients(
            session, base.users["boss"], everyone, after_id=after, limit=2
        ):
            assert len(page) <= 2
            seen += [client.contact_id for client in page]
            after = page[-1].contact_id
    assert base.keys(seen) == {"anna", "boris", "vera", "gleb", "dina"}
    assert seen == sorted(seen) and len(seen) == 5


async def test_a_segment_becomes_a_dial_list_without_duplicates_or_do_not_call_numbers(
    db: async_sessionmaker[AsyncSession],
) -> None:
    base = await make_base(db)
    async with db() as session:
        campaign = Campaign(name="Весна")
        other = Campaign(name="Осень")
        session.add_all([campaign, other])
        await session.flush()
        # Анна is already in the campaign under her first number (so not again under her
        # second); Борис only in another campaign
        session.add_all(
            [
                Lead(
                    campaign_id=campaign.id,
                    phone_raw="8 495 123-45-67",
                    phone_e164="+74951234567",
                ),
                Lead(
                    campaign_id=other.id,
                    contact_id=base.ids["boris"],
                    phone_raw="x",
                    phone_e164="+73831234567",
                ),
            ]
        )
        await session.commit()
        everyone = SegmentFilter()
        result = await segments.add_to_campaign(session, base.users["boss"], everyone, campaign)
        await session.commit()
        # Борис added; Глеб by his second number (the first is on the DNC list);
        # Дина's only number is on it; Вера has none; Анна was already there
        assert result == segments.DialListResult(added=2, already_in=1, do_not_call=1, no_phone=1)
        leads = {
            (lead.contact_id, lead.phone_e164, lead.time_zone)
            for lead in await session.scalars(select(Lead).where(Lead.campaign_id == campaign.id))
        }
        assert leads == {
            (None, "+74951234567", None),
            (base.ids["boris"], "+73831234567", "Asia/Novosibirsk"),
            (base.ids["gleb"], "+74997770001", "Europe/Moscow"),
        }
        again = await segments.add_to_campaign(session, base.users["boss"], everyone, campaign)
        await session.commit()
        assert again == segments.DialListResult(added=0, already_in=3, do_not_call=1, no_phone=1)
        assert len(list(await session.scalars(select(Lead)))) == 4


def test_dates_are_days_in_the_given_zone() -> None:
    clause = segments.filter_clause(
        SegmentFilter(last_contact_from=date(2026, 3, 1)), segments.DEFAULT_ZONE
    )
    compiled = clause.compile()
    assert datetime(2026, 2, 28, 21, 0, tzinfo=UTC) in compiled.params.values()
