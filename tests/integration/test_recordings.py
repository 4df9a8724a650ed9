"""Recordings: the sandbox records a real call, the call row names the file, a supervisor
plays it; the retention sweep deletes what is past the center's limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from ami.sandbox.sipp import Caller, Phone
from callcenter import center_settings, recording_retention
from callcenter.models import AuditEntry, Call
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import make_world, running_pipeline, until
from tests.integration.test_web import ClientFactory, sign_in, unconnected_telephony
from web.app import create_app
from web.state import WebServices


@pytest.mark.asterisk
@pytest.mark.db
async def test_a_recorded_call_names_its_file_and_a_supervisor_plays_it(
    asterisk_sandbox: SandboxStatus,
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    await make_world(db)
    async with db() as session:
        await add_user(
            session, login="boss", full_name="Контроль", role="supervisor", password="x" * 12
        )
        await session.commit()
    async with running_pipeline(db, asterisk_sandbox.ami_port) as (inbound, _, notifier):
        operator_phone("101", ring_ms=200)
        sipp_caller(did="101", cidnum="84951234567", cidname="Ivan", hold_ms=1500)
        await until(lambda: bool(notifier.of_type("call.ended")), 20, "the call's end")
        await asyncio.wait_for(inbound.call_log.drained(), 10)
    async with db() as session:
        call = await session.scalar(select(Call).where(Call.answered_at.is_not(None)))
    assert call is not None and call.recording_path is not None
    # the dial plan's CALLCENTER_RECORDING says nothing about who placed the call
    assert call.direction == "inbound"
    file = asterisk_sandbox.recordings / call.recording_path
    await until(file.exists, 5, "the recording's file")  # MixMonitor closes it at hangup
    assert file.read_bytes()[:4] == b"RIFF"

    settings = load_settings({"CALLCENTER_RECORDINGS_DIR": str(asterisk_sandbox.recordings)})
    client = await aiohttp_client(create_app(WebServices(settings, db, unconnected_telephony())))
    assert (await sign_in(client, "boss", "x" * 12)).status == 303
    response = await client.get(f"/calls/{call.id}/recording")
    assert response.status == 200
    assert (await response.read()) == file.read_bytes()


@pytest.mark.db
async def test_the_retention_sweep_deletes_old_recordings_only(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    files = {}
    async with db() as session:
        for name, age in (("old", 40), ("recent", 5), ("outside", 60)):
            path = f"../{name}.wav" if name == "outside" else f"{name}.wav"
            target = tmp_path / "rec" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"RIFF")
            files[name] = target
            session.add(
                Call(
                    linkedid=f"rec-{name}",
                    direction="inbound",
                    started_at=now - timedelta(days=age),
                    result="answered",
                    recording_path=path,
                )
            )
        await session.commit()
    folder = tmp_path / "rec"
    # kept for ever by default
    assert await recording_retention.sweep(db, folder, now) == 0
    async with db() as session:
        await center_settings.save(session, "recording_retention_days", 30, None)
        await session.commit()
    assert await recording_retention.sweep(db, folder, now) == 2
    assert not files["old"].exists() and files["recent"].exists()
    assert files["outside"].exists()  # never a file outside the recordings folder
    async with db() as session:
        kept = dict((await session.execute(select(Call.linkedid, Call.recording_path))).all())
        audited = await session.scalar(
            select(AuditEntry.details).where(AuditEntry.action == "recordings.retention")
        )
    assert kept == {"rec-old": None, "rec-recent": "recent.wav", "rec-outside": None}
    assert audited == {"deleted": 2, "days": 30}
    assert await recording_retention.sweep(db, folder, now) == 0
