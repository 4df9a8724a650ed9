"""The operators' state log writes one span per stretch of ready/paused/offline, survives
restarts and database outages, and the load report sums those spans and the call log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import LiveSnapshot
from ami.translate import member_device, translate_members
from callcenter import operator_log
from callcenter.app.inbound import InboundPipeline
from callcenter.devices import DeviceDirectory
from callcenter.events import QueueMemberPaused, QueueMemberStateChanged
from callcenter.models import Call, OperatorStateSpan
from callcenter.operator_load import OperatorLoad, operator_load
from callcenter.operator_log import OperatorStateLog
from callcenter.users import add_user
from tests.integration.cti_helpers import RecordingNotifier, until

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANNA, DMITRY = "PJSIP/op101", "PJSIP/op102"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pause(member: str, minutes: float, reason: str = "", paused: bool = True) -> QueueMemberPaused:
    return QueueMemberPaused(
        at(minutes), "support", member, "", member_device(member), paused, reason
    )


def status(
    member: str, minutes: float, state: int = 1, paused: bool = False
) -> QueueMemberStateChanged:
    device = member_device(member)
    return QueueMemberStateChanged(at(minutes), "support", member, "", device, state, paused, False)


def member_row(
    device: str, state: int = 1, paused: bool = False, reason: str = ""
) -> dict[str, str]:
    """A ``QueueMember`` row of the AMI snapshot, as Asterisk sends it."""
    return {
        "Event": "QueueMember",
        "Queue": "support",
        "MemberName": device,
        "Interface": device,
        "Status": str(state),
        "Paused": "1" if paused else "0",
        "PausedReason": reason,
        "InCall": "0",
    }


async def add_operators(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    ids = {}
    async with db() as session:
        for ext, name in (("101", "Анна Смирнова"), ("102", "Дмитрий Кузнецов")):
            user = await add_user(
                session,
                login=f"op{ext}",
                full_name=name,
                role="operator",
                password="correct-horse",
                extension=ext,
                device=f"PJSIP/op{ext}",
            )
            ids[f"PJSIP/op{ext}"] = user.id
        await session.commit()
    return ids


async def spans(db: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            select(
                OperatorStateSpan.device,
                OperatorStateSpan.user_id,
                OperatorStateSpan.state,
                OperatorStateSpan.reason,
                OperatorStateSpan.started_at,
                OperatorStateSpan.ended_at,
            ).order_by(OperatorStateSpan.device, OperatorStateSpan.started_at)
        )
        return [tuple(row) for row in rows]


@pytest.fixture
async def devices(db: async_sessionmaker[AsyncSession]) -> DeviceDirectory:
    await add_operators(db)
    directory = DeviceDirectory(db)
    await directory.reload()
    return directory


async def drain(state_log: OperatorStateLog) -> None:
    """Run the writer until everything queued so far is written."""
    writer = asyncio.create_task(state_log.run())
    try:
        await asyncio.wait_for(state_log.drained(), 10)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


# ------------------------------------------------------------------ the log


async def test_only_changes_of_state_or_reason_open_a_span(
    db: async_sessionmaker[AsyncSession], devices: DeviceDirectory
) -> None:
    anna = devices.cached(ANNA)
    assert anna is not None
    state_log = OperatorStateLog(db, devices)
    for event in (
        status(ANNA, 0),
        pause(ANNA, 10, "lunch"),
        pause(ANNA, 11, "lunch"),  # the same pause from a second queue
        status(ANNA, 12, paused=True),  # its device state while paused: nothing new
        pause(ANNA, 40, "training"),
        status(ANNA, 50, state=5, paused=True),  # the phone dropped off
        pause(ANNA, 55, "coffee"),  # a reason changed while offline is still offline
        status(ANNA, 60, state=1, paused=False),
        status(ANNA, 65, paused=True),  # paused with no reason said: not "coffee" again
        status("Local/101@agents", 61),  # no phone: not logged
        status("PJSIP/trunk", 62),  # a phone nobody owns
    ):
        if isinstance(event, QueueMemberPaused):
            state_log.member_paused(event)
        else:
            state_log.member_state(event)
    await drain(state_log)
    assert await spans(db) == [
        (ANNA, anna.user_id, "ready", "", at(0), at(10)),
        (ANNA, anna.user_id, "paused", "lunch", at(10), at(40)),
        (ANNA, anna.user_id, "paused", "training", at(40), at(50)),
        (ANNA, anna.user_id, "offline", "", at(50), at(60)),
        (ANNA, anna.user_id, "ready", "", at(60), at(65)),
        (ANNA, anna.user_id, "paused", "", at(65), None),
        ("PJSIP/trunk", None, "ready", "", at(62), None),
    ]
    assert state_log.written == 7


async def test_a_restart_keeps_what_the_snapshot_confirms_and_closes_the_rest(
    db: async_sessionmaker[AsyncSession], devices: DeviceDirectory
) -> None:
    before = OperatorStateLog(db, devices)
    before.member_state(status(ANNA, 0))
    before.member_paused(pause(DMITRY, 5, "lunch"))
    before.member_state(status("PJSIP/op103", 6))  # a phone since taken out of the queues
    await drain(before)

    # the listener restarts: Anna still ready, Dmitry back from lunch while nobody
    # listened, op103 in no queue any more
    after = OperatorStateLog(db, devices)
    snapshot = [member_row(ANNA), member_row(DMITRY)]
    after.resynced(translate_members(snapshot, at(30)), at(30))
    await drain(after)
    anna, dmitry = (devices.cached(d) for d in (ANNA, DMITRY))
    assert anna is not None and dmitry is not None
    expected = [
        (ANNA, anna.user_id, "ready", "", at(0), None),  # the same span goes on
        (DMITRY, dmitry.user_id, "paused", "lunch", at(5), at(30)),
        (DMITRY, dmitry.user_id, "ready", "", at(30), None),
        ("PJSIP/op103", None, "ready", "", at(6), at(30)),
    ]
    assert await spans(db) == expected

    # the next reconnect with nothing changed writes nothing new
    after.resynced(translate_members(snapshot, at(40)), at(40))
    await drain(after)
    assert await spans(db) == expected

    # the snapshot replays a pause with its reason: one span, not "paused" then "lunch"
    paused = [member_row(ANNA, paused=True, reason="lunch"), member_row(DMITRY)]
    after.resynced(translate_members(paused, at(50)), at(50))
    await drain(after)
    assert (await spans(db))[:2] == [
        (ANNA, anna.user_id, "ready", "", at(0), at(50)),
        (ANNA, anna.user_id, "paused", "lunch", at(50), None),
    ]


async def test_transitions_wait_out_a_database_failure_in_order(
    db: async_sessionmaker[AsyncSession],
    devices: DeviceDirectory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(operator_log, "RETRY_SECONDS", (0.05,))
    async with db() as session, session.begin():
        await session.execute(text("ALTER TABLE operator_state_spans RENAME TO spans_away"))
    state_log = OperatorStateLog(db, devices)
    writer = asyncio.create_task(state_log.run())
    try:
        state_log.member_state(status(ANNA, 0))
        state_log.member_paused(pause(ANNA, 10, "lunch"))
        state_log.member_paused(pause(ANNA, 20, "", paused=False))
        await until(lambda: "retrying" in caplog.text, 10, "failed write")
        assert state_log.written == 0
        async with db() as session, session.begin():
            await session.execute(text("ALTER TABLE spans_away RENAME TO operator_state_spans"))
        await asyncio.wait_for(state_log.drained(), 10)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    anna = devices.cached(ANNA)
    assert anna is not None
    assert await spans(db) == [
        (ANNA, anna.user_id, "ready", "", at(0), at(10)),
        (ANNA, anna.user_id, "paused", "lunch", at(10), at(20)),
        (ANNA, anna.user_id, "ready", "", at(20), None),
    ]
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_a_full_backlog_keeps_each_phones_newest_state(
    db: async_sessionmaker[AsyncSession], devices: DeviceDirectory
) -> None:
    state_log = OperatorStateLog(db, devices, max_pending=4)
    for minute in range(200):  # no writer yet: the database is "away"
        for device in (ANNA, DMITRY):
            state_log.member_paused(pause(device, minute, "lunch", paused=minute % 2 == 1))
        if minute % 10 == 5:  # and the AMI link reconnects now and then
            rows = [member_row(ANNA, paused=True, reason="lunch"), member_row(DMITRY)]
            state_log.resynced(translate_members(rows, at(minute)), at(minute))
    assert state_log.backlog <= 4 + 2 + 1  # the cap, one per phone, one snapshot
    assert state_log.coalesced >= 390
    await drain(state_log)
    rows = await spans(db)
    # the history is cut short, but each phone ends in its real state since its real time
    open_spans = {row[0]: row[2:5] for row in rows if row[5] is None}
    assert open_spans == {
        ANNA: ("paused", "lunch", at(199)),
        DMITRY: ("paused", "lunch", at(199)),
    }
    assert len(rows) <= 6


async def test_a_snapshot_is_never_overtaken_in_a_full_backlog(
    db: async_sessionmaker[AsyncSession], devices: DeviceDirectory
) -> None:
    state_log = OperatorStateLog(db, devices, max_pending=1)
    state_log.member_state(status(ANNA, 0))
    state_log.member_state(status(DMITRY, 1))
    state_log.member_paused(pause(DMITRY, 2, "lunch"))
    # Dmitry is in no queue at the snapshot, and joins again just after it
    state_log.resynced(translate_members([member_row(ANNA)], at(5)), at(5))
    state_log.member_state(status(DMITRY, 6))
    await drain(state_log)
    open_spans = {row[0]: row[2:5] for row in await spans(db) if row[5] is None}
    assert open_spans == {ANNA: ("ready", "", at(5)), DMITRY: ("ready", "", at(6))}


async def test_the_pipeline_logs_members_without_a_wallboard(
    db: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_operators(db)
    pipeline = InboundPipeline(db, RecordingNotifier(), region="RU")
    fed = asyncio.Event()
    epoch = T0.timestamp()

    class FakeLink:
        async def events(self) -> AsyncIterator[dict[str, str]]:
            # as AmiLink does: the snapshot in-band, before the events after it
            await pipeline.resync(
                LiveSnapshot(at(0), (), (), (member_row(ANNA), member_row(DMITRY)), ())
            )
            yield {
                "Event": "QueueMemberPause",
                "Timestamp": f"{epoch + 600:.6f}",
                "Queue": "support",
                "Interface": ANNA,
                "MemberName": "Анна",
                "Paused": "1",
                "PausedReason": "lunch",
            }
            yield {
                "Event": "QueueMemberStatus",
                "Timestamp": f"{epoch + 900:.6f}",
                "Queue": "support",
                "Interface": DMITRY,
                "MemberName": "Дмитрий",
                "Status": "5",
                "Paused": "0",
                "InCall": "0",
            }
            fed.set()
            await asyncio.Event().wait()

    listener = asyncio.create_task(pipeline.run(FakeLink()))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(fed.wait(), 10)
        await asyncio.wait_for(pipeline.operator_log.drained(), 10)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert pipeline.wallboard is None
    assert await spans(db) == [
        (ANNA, ids[ANNA], "ready", "", at(0), at(10)),
        (ANNA, ids[ANNA], "paused", "lunch", at(10), None),
        (DMITRY, ids[DMITRY], "ready", "", at(0), at(15)),
        (DMITRY, ids[DMITRY], "offline", "", at(15), None),
    ]


# ------------------------------------------------------------------ the load report

START, END = at(0), at(120)  # 09:00 to 11:00


async def load_world(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Operators, their spans and calls around the period 09:00-11:00."""
    ids: dict[str, int] = {}
    async with db() as session:
        for login, name, role, active in (
            ("anna", "Анна Смирнова", "operator", True),
            ("dmitry", "Дмитрий Кузнецов", "operator", True),
            ("olga", "Ольга Новикова", "operator", True),  # no data: a row of zeros
            ("petr", "Пётр Волков", "operator", False),  # left, but worked in the period
            ("sergey", "Сергей Орлов", "supervisor", True),  # took one call
            ("maria", "Мария Белова", "operator", False),  # left, no data: not shown
            ("ivan", "Иван Зайцев", "supervisor", True),  # from 11:00 only: not shown
        ):
            user = await add_user(
                session, login=login, full_name=name, role=role, password="correct-horse"
            )
            user.is_active = active
            ids[login] = user.id
        await session.flush()

        def span(
            login: str | None,
            device: str,
            state: str,
            begins: float,
            ends: float | None,
            reason: str = "",
        ) -> OperatorStateSpan:
            return OperatorStateSpan(
                user_id=ids[login] if login else None,
                device=device,
                state=state,
                reason=reason,
                started_at=at(begins),
                ended_at=None if ends is None else at(ends),
            )

        session.add_all(
            [
                span("anna", ANNA, "offline", -120, -60),  # before the period
                span("anna", ANNA, "ready", -60, 30),  # 08:00-09:30: 30 min inside
                span("anna", ANNA, "paused", 30, 50, "lunch"),
                span("anna", ANNA, "ready", 50, 70),
                span("anna", ANNA, "paused", 70, 80, "training"),
                span("anna", ANNA, "offline", 80, 90),  # not online
                span("anna", ANNA, "ready", 90, None),  # open: up to the end (or now)
                span("dmitry", DMITRY, "ready", -180, -120),
                span("dmitry", DMITRY, "paused", -120, 180, "lunch"),  # across both edges
                span("dmitry", DMITRY, "ready", 180, None),  # after the period
                # Petr's phone changed at 08:30; the old phone's span was never closed
                span("petr", "PJSIP/old103", "ready", -60, None),
                span("petr", "PJSIP/op103", "ready", -30, -20),
                span(None, "PJSIP/trunk", "ready", -60, None),  # nobody's
                span("ivan", "PJSIP/op104", "ready", 120, None),  # the next period's
            ]
        )

        def call(n: int, login: str | None, begins: float, talk: int | None) -> Call:
            return Call(
                linkedid=f"1700000000.{n}",
                direction="inbound",
                started_at=at(begins),
                answered_at=at(begins + 0.5) if login else None,
                ended_at=at(begins + 1) if talk is not None else None,
                answered_by_id=ids[login] if login else None,
                talk_seconds=talk,
                result="answered" if login else "abandoned",
            )

        session.add_all(
            [
                call(1, "anna", 5, 300),
                call(2, "anna", 110, 400),  # runs past the end: counted, it started inside
                call(3, "anna", -5, 500),  # started before the period
                call(4, "anna", 120, 600),  # started at the end: the next period's
                call(5, None, 20, None),  # abandoned
                call(6, "dmitry", 10, 100),
                call(7, "sergey", 30, 60),
            ]
        )
        await session.commit()
    return ids


async def test_operator_load_over_a_period(db: async_sessionmaker[AsyncSession]) -> None:
    ids = await load_world(db)
    async with db() as session:
        report = await operator_load(session, START, END, now=at(180))
    assert report == [
        OperatorLoad(
            ids["anna"],
            "Анна Смирнова",
            online_seconds=(30 + 20 + 20 + 10 + 30) * 60,
            paused_seconds_by_reason={"lunch": 20 * 60, "training": 10 * 60},
            talk_seconds=700,
            answered=2,
            wrap_up_seconds=40,
            idle_seconds=(30 + 20 + 30) * 60 - 700 - 40,
        ),
        # paused all along and still took a call: idle cannot go below zero
        OperatorLoad(
            ids["dmitry"],
            "Дмитрий Кузнецов",
            online_seconds=7200,
            paused_seconds_by_reason={"lunch": 7200},
            talk_seconds=100,
            answered=1,
            wrap_up_seconds=20,
            idle_seconds=0,
        ),
        OperatorLoad(ids["olga"], "Ольга Новикова", 0, {}, 0, 0, 0, 0),
        OperatorLoad(ids["petr"], "Пётр Волков", 7200, {}, 0, 0, 0, 7200),
        OperatorLoad(ids["sergey"], "Сергей Орлов", 0, {}, 60, 1, 20, 0),
    ]
    assert report[0].paused_seconds == 30 * 60


async def test_an_open_span_counts_up_to_now(db: async_sessionmaker[AsyncSession]) -> None:
    ids = await load_world(db)
    async with db() as session:
        report = await operator_load(session, START, END, now=at(105), wrap_up_seconds=30)
    anna = next(row for row in report if row.user_id == ids["anna"])
    assert anna.online_seconds == (30 + 20 + 20 + 10 + 15) * 60
    assert (anna.wrap_up_seconds, anna.idle_seconds) == (60, (30 + 20 + 15) * 60 - 700 - 60)


async def test_operator_load_reads_only_the_period(db: async_sessionmaker[AsyncSession]) -> None:
    ids = await load_world(db)
    async with db() as session:
        # 11:00-12:00: Dmitry's lunch until 12:00, Anna's open ready span, call 4, Ivan
        report = await operator_load(session, at(120), at(180), now=at(600))
        with pytest.raises(ValueError, match="end after"):
            await operator_load(session, END, START)
    logins = {user_id: login for login, user_id in ids.items()}
    by_login = {logins[row.user_id]: row for row in report}
    assert set(by_login) == {"anna", "dmitry", "olga", "petr", "ivan"}
    assert (by_login["anna"].online_seconds, by_login["anna"].talk_seconds) == (3600, 600)
    assert by_login["dmitry"].paused_seconds_by_reason == {"lunch": 3600}
