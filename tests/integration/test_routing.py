"""Personal-manager routing: the lookup on PostgreSQL, and real calls through the sandbox.

The sandbox tests start ``routing_server`` on 127.0.0.1:4573, where the reference
dialplan (``asterisk-conf/extensions.conf``, context ``from-trunk``) asks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from panoramisk.message import Message
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.agi import MANAGER_VARIABLE, routing_server
from ami.link import AmiLink
from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Caller, Phone
from callcenter.models import Contact, ContactPhone, User
from callcenter.routing import personal_manager_device
from callcenter.settings import Secret
from tests.integration.cti_helpers import World, make_world
from tests.integration.test_lookup import FORMATS
from tests.integration.test_sandbox import call_events, caller_hung_up, names, wait_cdr
from tests.unit.test_agi import FakeAsterisk

AGI_HOST, AGI_PORT = "127.0.0.1", 4573  # as in extensions.conf: ROUTING_AGI


async def device_for(db: async_sessionmaker[AsyncSession], number: str) -> str | None:
    async with db() as session:
        return await personal_manager_device(session, number, "RU")


# ---------------------------------------------------------------- the lookup


@pytest.mark.db
@pytest.mark.parametrize("number", FORMATS)
async def test_every_format_finds_the_personal_manager(
    db: async_sessionmaker[AsyncSession], number: str
) -> None:
    await make_world(db)
    assert await device_for(db, number) == "PJSIP/op102"


@pytest.mark.db
@pytest.mark.parametrize("number", ["84959999999", "", "anonymous", "unknown", "<unknown>", "1"])
async def test_unknown_and_anonymous_callers_have_no_manager(
    db: async_sessionmaker[AsyncSession], number: str
) -> None:
    await make_world(db)
    assert await device_for(db, number) is None


@pytest.mark.db
async def test_no_manager_or_an_inactive_one_or_one_without_a_phone_means_the_queue(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    manager_id = world.operators["102"].id

    async def change(statement: object) -> None:
        async with db() as session:
            await session.execute(statement)  # type: ignore[call-overload]
            await session.commit()

    await change(update(User).where(User.id == manager_id).values(is_active=False))
    assert await device_for(db, "84951234567") is None
    await change(update(User).where(User.id == manager_id).values(is_active=True, interface=None))
    assert await device_for(db, "84951234567") is None
    await change(update(User).where(User.id == manager_id).values(interface="PJSIP/op102"))
    assert await device_for(db, "84951234567") == "PJSIP/op102"
    await change(update(Contact).where(Contact.id == world.contact_id).values(manager_id=None))
    assert await device_for(db, "84951234567") is None


async def _duplicate(db: async_sessionmaker[AsyncSession], world: World, phone: str) -> int:
    """A duplicate of Иван Петров managed by op101 with its own phone, merged into him."""
    async with db() as session:
        duplicate = Contact(
            display_name="Иван (дубль)",
            manager_id=world.operators["101"].id,
            merged_into_id=world.contact_id,
        )
        session.add(duplicate)
        await session.flush()
        session.add(ContactPhone(contact_id=duplicate.id, raw=phone, e164="+7" + phone[1:]))
        await session.commit()
        return duplicate.id


@pytest.mark.db
async def test_a_merged_duplicate_rings_the_manager_of_the_contact_it_was_merged_into(
    db: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(db)
    duplicate_id = await _duplicate(db, world, "89161234567")
    assert await device_for(db, "89161234567") == "PJSIP/op102"  # not op101, the duplicate's

    # a merge loop (bad data) is not followed forever; the call goes to the queue
    async with db() as session:
        await session.execute(
            update(Contact)
            .where(Contact.id == world.contact_id)
            .values(merged_into_id=duplicate_id)
        )
        await session.commit()
    assert await device_for(db, "89161234567") is None


@pytest.mark.db
async def test_a_slow_database_sends_the_call_to_the_queue_within_the_deadline(
    db: async_sessionmaker[AsyncSession],
) -> None:
    await make_world(db)
    async with routing_server("127.0.0.1", 0, db, "RU") as address, db() as blocker:
        asterisk = await FakeAsterisk.call(address, "84951234567")
        assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} "PJSIP/op102"\n'
        await asterisk.close()

        # another transaction holds the phones table: the lookup's query has to wait
        await blocker.execute(text("LOCK TABLE contact_phones IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        asterisk = await FakeAsterisk.call(address, "84951234567")
        assert await asterisk.command() == f'SET VARIABLE {MANAGER_VARIABLE} ""\n'
        waited = time.monotonic() - started
        await asterisk.close()
        await blocker.rollback()
    assert waited < 0.6, waited


# ------------------------------------------------------ calls through Asterisk


@pytest.fixture
async def ami_link(asterisk_sandbox: SandboxStatus) -> AsyncIterator[AmiLink]:
    link = AmiLink("127.0.0.1", 5038, "callcenter", Secret("callcenter-sandbox"))
    await link.start()
    try:
        await link.wait_connected(10)
        yield link
    finally:
        await link.stop()


async def events_of_call(link: AmiLink, cidnum: str, timeout: float = 40) -> list[Message]:
    def first(m: Message) -> bool:
        return bool(m.get("Event") == "Newchannel" and m.get("CallerIDNum") == cidnum)

    return await call_events(link, first, caller_hung_up, timeout=timeout)


def variable(events: list[Message], name: str) -> list[str]:
    """Values a channel variable took on the caller's own channel, in order."""
    return [
        str(m.get("Value") or "")  # panoramisk gives None for an empty value
        for m in events
        if m.get("Event") == "VarSet"
        and m.get("Variable") == name
        and m.get("Uniqueid") == m.get("Linkedid")
    ]


def dialled(events: list[Message]) -> list[str]:
    """Devices rung, in order: ``DialBegin`` from Dial() and from the queue alike."""
    return [
        str(m.get("DestChannel")).rpartition("-")[0]
        for m in events
        if m.get("Event") == "DialBegin"
    ]


def ran_dial(events: list[Message]) -> bool:
    """The dialplan's own Dial() ran (the personal manager step), not only the queue."""
    return any(m.get("Event") == "Newexten" and m.get("Application") == "Dial" for m in events)


def first_index(events: list[Message], name: str) -> int | None:
    return next((i for i, m in enumerate(events) if m.get("Event") == name), None)


async def answered_device(status: SandboxStatus, events: list[Message]) -> str:
    rows = await wait_cdr(status.cdr_csv, str(events[0].get("Linkedid")), timeout=10)
    answered = [row for row in rows if row["disposition"] == "ANSWERED"]
    return answered[0]["dstchannel"].rpartition("-")[0]


@pytest.mark.asterisk
@pytest.mark.db
async def test_known_client_rings_his_personal_manager_before_the_queue(
    db: async_sessionmaker[AsyncSession],
    asterisk_sandbox: SandboxStatus,
    ami_link: AmiLink,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    op101 = operator_phone("101", ring_ms=300)  # a queue member, and quicker to answer
    op102 = operator_phone("102", ring_ms=1000)
    async with routing_server(AGI_HOST, AGI_PORT, db, "RU"):
        caller = sipp_caller(did="74951112233", cidnum="84951234567", hold_ms=1000)
        events = await events_of_call(ami_link, "84951234567")
        assert await asyncio.to_thread(caller.wait, 10) == 0, caller.diagnostics()

    assert variable(events, "AGISTATUS") == ["SUCCESS"], names(events)
    assert variable(events, MANAGER_VARIABLE)[-1] == "PJSIP/op102"
    assert dialled(events) == ["PJSIP/op102"], names(events)
    assert first_index(events, "AgentCalled") is None  # the queue was never needed
    assert first_index(events, "QueueCallerJoin") is None
    assert await answered_device(asterisk_sandbox, events) == "PJSIP/op102"
    assert op101.counts() == (0, 0), op101.diagnostics()
    assert op102.counts()[1] == 0, op102.diagnostics()


@pytest.mark.asterisk
@pytest.mark.db
async def test_unanswered_manager_falls_back_to_the_queue(
    db: async_sessionmaker[AsyncSession],
    asterisk_sandbox: SandboxStatus,
    ami_link: AmiLink,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    operator_phone("101", ring_ms=500)
    operator_phone("102", answer=False)  # the manager is away: his phone only rings
    async with routing_server(AGI_HOST, AGI_PORT, db, "RU"):
        caller = sipp_caller(did="74951112233", cidnum="84951234567", hold_ms=1000)
        events = await events_of_call(ami_link, "84951234567", timeout=60)
        assert await asyncio.to_thread(caller.wait, 10) == 0, caller.diagnostics()

    devices = dialled(events)
    assert devices[0] == "PJSIP/op102" and "PJSIP/op101" in devices[1:], devices
    dial_end = next(m for m in events if m.get("Event") == "DialEnd")
    assert dial_end.get("DialStatus") == "NOANSWER"
    joined = first_index(events, "QueueCallerJoin")
    assert joined is not None and joined > events.index(dial_end)
    assert await answered_device(asterisk_sandbox, events) == "PJSIP/op101"


@pytest.mark.asterisk
@pytest.mark.db
async def test_unknown_caller_goes_straight_to_the_queue(
    db: async_sessionmaker[AsyncSession],
    asterisk_sandbox: SandboxStatus,
    ami_link: AmiLink,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    operator_phone("101", ring_ms=500)
    async with routing_server(AGI_HOST, AGI_PORT, db, "RU"):
        caller = sipp_caller(did="74951112233", cidnum="84950000777", hold_ms=1000)
        events = await events_of_call(ami_link, "84950000777")
        assert await asyncio.to_thread(caller.wait, 10) == 0, caller.diagnostics()

    assert variable(events, "AGISTATUS") == ["SUCCESS"], names(events)
    assert variable(events, MANAGER_VARIABLE) == ["", ""]  # cleared, then set empty by us
    called = first_index(events, "AgentCalled")
    assert called is not None and first_index(events, "QueueCallerJoin") is not None
    assert not ran_dial(events)
    assert await answered_device(asterisk_sandbox, events) == "PJSIP/op101"


@pytest.mark.asterisk
@pytest.mark.db
async def test_with_the_routing_server_down_the_call_still_reaches_the_queue(
    db: async_sessionmaker[AsyncSession],
    asterisk_sandbox: SandboxStatus,
    ami_link: AmiLink,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)  # a known client: with the server up he would ring op102
    try:
        _, writer = await asyncio.open_connection(AGI_HOST, AGI_PORT)
    except OSError:
        pass  # refused, as it should be
    else:
        writer.close()
        pytest.fail(f"something listens on {AGI_HOST}:{AGI_PORT}; this test needs it closed")
    operator_phone("101", ring_ms=500)
    caller = sipp_caller(did="74951112233", cidnum="84951234567", hold_ms=1000)
    events = await events_of_call(ami_link, "84951234567")
    assert await asyncio.to_thread(caller.wait, 10) == 0, caller.diagnostics()

    assert variable(events, "AGISTATUS") == ["FAILURE"], names(events)
    assert variable(events, MANAGER_VARIABLE) == [""]
    assert first_index(events, "QueueCallerJoin") is not None, names(events)
    assert not ran_dial(events)
    assert await answered_device(asterisk_sandbox, events) == "PJSIP/op101"
    # Asterisk went on at once: from the AGI() step to joining the queue
    agi = next(m for m in events if m.get("Event") == "Newexten" and m.get("Application") == "AGI")
    joined = next(m for m in events if m.get("Event") == "QueueCallerJoin")
    delay = float(str(joined.get("Timestamp"))) - float(str(agi.get("Timestamp")))
    print(f"AGI server down: AGI() -> QueueCallerJoin took {delay * 1000:.1f} ms")
    assert delay < 0.5
