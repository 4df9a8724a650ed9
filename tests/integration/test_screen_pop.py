"""Screen-pops from tracker notifications, with a real client base behind the lookup."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.devices import DeviceDirectory
from callcenter.screen_pop import ScreenPops
from tests.integration.cti_helpers import (
    RecordingNotifier,
    World,
    answered,
    ended,
    make_world,
    queue_call,
)

pytestmark = pytest.mark.db


@pytest.fixture
async def setup(
    db: async_sessionmaker[AsyncSession],
) -> tuple[World, ScreenPops, RecordingNotifier]:
    world = await make_world(db)
    devices = DeviceDirectory(db)
    notifier = RecordingNotifier()
    pops = ScreenPops(db, devices, notifier, region="RU", deadline=0.5)
    yield world, pops, notifier
    await pops.close()


async def test_ringing_operators_get_the_client_and_the_answer_withdraws_it(
    setup: tuple[World, ScreenPops, RecordingNotifier],
) -> None:
    world, pops, notifier = setup
    op101, op102 = world.operators["101"].id, world.operators["102"].id
    call = queue_call()
    pops.call_started(call)
    ringing = replace(call, rang_devices=("PJSIP/op101", "PJSIP/op102"))
    pops.device_ringing(ringing, "PJSIP/op101")
    pops.device_ringing(ringing, "PJSIP/op102")
    pops.device_ringing(ringing, "PJSIP/op199")  # a phone no user owns: no pop
    await notifier.wait_for("call.ringing", 2)
    await asyncio.sleep(0.2)  # time for a wrong third pop to show up
    rang = notifier.of_type("call.ringing")
    assert sorted(users for users, _ in rang) == [(op101,), (op102,)]
    for _, payload in rang:
        assert payload["lookup"] == "known"
        assert payload["client"]["name"] == "Петров Иван"
        assert payload["client"]["manager_name"] == "Дмитрий Кузнецов"
        assert payload["caller_number"] == "84951234567" and payload["did"] == "74951112233"

    talking = answered(ringing)
    talking = replace(talking, rang_devices=("PJSIP/op101", "PJSIP/op102"))
    pops.call_answered(talking, "PJSIP/op101")
    pops.call_ended(ended(talking))
    await notifier.wait_for("call.ended")
    ((users, payload),) = notifier.of_type("call.answered")
    assert users == tuple(sorted((op101, op102))) and payload["answered_by"] == op101
    ((users, payload),) = notifier.of_type("call.ended")
    assert set(users) == {op101, op102} and payload["result"] == "answered"
    assert payload["answered_by"] == op101
    kinds = [t for _, t, _ in notifier.messages]
    assert kinds.index("call.answered") > max(i for i, k in enumerate(kinds) if k == "call.ringing")


async def test_unknown_and_hostile_names_travel_as_data(
    setup: tuple[World, ScreenPops, RecordingNotifier],
) -> None:
    _, pops, notifier = setup
    call = queue_call(number="84950000000", caller_name="<img src=x onerror=alert(1)>")
    pops.call_started(call)
    pops.device_ringing(call, "PJSIP/op101")
    await notifier.wait_for("call.ringing")
    ((_, payload),) = notifier.of_type("call.ringing")
    assert payload["lookup"] == "unknown" and payload["client"] is None
    assert payload["caller_name"] == "<img src=x onerror=alert(1)>"  # escaping is the page's job


async def test_a_slow_lookup_sends_the_pop_as_pending_then_updates_it(
    db: async_sessionmaker[AsyncSession], setup: tuple[World, ScreenPops, RecordingNotifier]
) -> None:
    _, pops, notifier = setup
    loop = asyncio.get_running_loop()
    async with db() as blocker:
        await blocker.execute(text("LOCK TABLE contact_phones IN ACCESS EXCLUSIVE MODE"))
        await pops._devices.reload()  # devices live in users: not blocked
        call = queue_call()
        started = loop.time()
        pops.call_started(call)
        pops.device_ringing(call, "PJSIP/op101")
        await notifier.wait_for("call.ringing")
        popped_after = loop.time() - started
        ((_, payload),) = notifier.of_type("call.ringing")
        assert payload["lookup"] == "pending" and payload["client"] is None
        assert popped_after < 2
        await blocker.rollback()
    await notifier.wait_for("call.updated", timeout=10)
    ((_, update),) = notifier.of_type("call.updated")
    assert update["lookup"] == "known" and update["client"]["name"] == "Петров Иван"
