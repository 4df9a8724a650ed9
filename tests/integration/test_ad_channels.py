"""Tracking numbers attribute inbound callers; admins' channel edits are checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import ad_channels
from callcenter.call_log import CallLog
from callcenter.clients import QuickClient, quick_add_client
from callcenter.devices import DeviceDirectory
from callcenter.models import AdChannel, Call, Contact
from tests.integration.cti_helpers import answered, ended, make_world, queue_call

pytestmark = pytest.mark.db


async def add_channels(db: async_sessionmaker[AsyncSession], *names: str) -> dict[str, int]:
    async with db() as session:
        rows = {name: AdChannel(name=name) for name in names}
        session.add_all(rows.values())
        await session.commit()
        return {name: row.id for name, row in rows.items()}


async def first_channel(db: async_sessionmaker[AsyncSession], contact_id: int) -> int | None:
    async with db() as session:
        channel_id: int | None = await session.scalar(
            select(Contact.ad_channel_id).where(Contact.id == contact_id)
        )
        return channel_id


async def test_a_call_to_a_tracking_number_gives_the_caller_a_first_channel(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    channels = await add_channels(db, "Билборды", "Радио")
    async with db() as session:
        for did, name in (("8 495 111-22-33", "Билборды"), ("+7 495 111-22-44", "Радио")):
            await ad_channels.add_tracking_number(session, did, channels[name], name, "RU")
        with pytest.raises(ad_channels.ChannelError) as twice:
            await ad_channels.add_tracking_number(
                session, "74951112233", channels["Радио"], "", "RU"
            )
        assert twice.value.errors == {"did": "this number is already a tracking number"}
        await session.commit()
    devices = DeviceDirectory(db)
    await devices.reload()
    call_log = CallLog(db, devices, "RU")
    first = queue_call("1700000000.1", did="74951112233")  # as the sandbox dialplan passes it
    await call_log.write(first)
    assert await first_channel(db, world.contact_id) is None  # not while it rings
    await call_log.write(ended(answered(first)))
    async with db() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == "1700000000.1"))
    assert call is not None and call.tracking_number_id is not None
    assert await first_channel(db, world.contact_id) == channels["Билборды"]
    # a later call through another channel's number does not rewrite where they came from
    later = queue_call("1700000100.1", did="74951112244", started_at=first.started_at)
    await call_log.write(ended(answered(later)))
    assert await first_channel(db, world.contact_id) == channels["Билборды"]


async def test_a_client_added_from_the_pop_of_a_tracked_call_gets_its_channel(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(db)
    channels = await add_channels(db, "Билборды")
    async with db() as session:
        await ad_channels.add_tracking_number(
            session, "+74951112233", channels["Билборды"], "", "RU"
        )
        await session.commit()
    devices = DeviceDirectory(db)
    await devices.reload()
    now = datetime.now(UTC)
    call = queue_call("1700000200.1", number="89031234567", did="74951112233", started_at=now)
    old = queue_call(
        "1700000300.1", number="89037654321", did="74951112233", started_at=now - timedelta(days=3)
    )
    call_log = CallLog(db, devices, "RU")
    for snapshot in (call, old):
        await call_log.write(snapshot)
    async with db() as session:
        new = await quick_add_client(session, QuickClient("Новый", "", "+7 903 123-45-67"), "RU")
        stranger = await quick_add_client(session, QuickClient("Давний", "", "89037654321"), "RU")
        await session.commit()
    assert await first_channel(db, new.id) == channels["Билборды"]
    assert await first_channel(db, stranger.id) is None  # that call was days ago


def test_the_most_specific_active_utm_match_wins() -> None:
    def channel(id_: int, *tags: str | None, active: bool = True) -> AdChannel:
        source, medium, campaign = (*tags, None, None, None)[:3]
        return AdChannel(
            id=id_,
            name=str(id_),
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign,
            is_active=active,
        )

    channels = [
        channel(1, "yandex"),
        channel(2, "yandex", "cpc"),
        channel(3, "yandex", "cpc", "windows", active=False),
        channel(4, None, "cpc"),
        channel(5),  # no tags: never matched by UTM
        channel(6, "Yandex", "CPC"),  # as specific as 2, newer: 2 wins
    ]

    def match(*tags: str | None) -> int | None:
        found = ad_channels.utm_match(channels, *(*tags, None, None, None)[:3])
        return found.id if found else None

    assert match("YANDEX", "cpc", "windows") == 2
    assert match("yandex", "organic") == 1
    assert match("google", "cpc") == 4
    assert match("google") is None
    assert match(None, None, None) is None


async def test_channel_edits_refuse_duplicates_and_blank_names(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        form = ad_channels.parse_channel(
            {"name": " Яндекс ", "utm_source": "Yandex", "is_active": "on"}
        )
        assert (form.name, form.utm_source, form.is_active) == ("Яндекс", "yandex", True)
        channel = await ad_channels.save_channel(session, form)
        other = await ad_channels.save_channel(session, ad_channels.parse_channel({"name": "VK"}))
        assert other.is_active is False  # an unticked box is "off"
        other_id = other.id
        with pytest.raises(ad_channels.ChannelError) as taken:
            await ad_channels.save_channel(session, form, other_id)
        assert taken.value.errors == {"name": "a channel with this name exists"}
        await session.commit()
        names = await session.execute(select(AdChannel.id, AdChannel.name, AdChannel.utm_source))
        assert sorted(names) == [(channel.id, "Яндекс", "yandex"), (other_id, "VK", None)]
    with pytest.raises(ad_channels.ChannelError) as blank:
        ad_channels.parse_channel({"name": "  ", "utm_medium": "x" * 201})
    assert set(blank.value.errors) == {"name", "utm_medium"}
