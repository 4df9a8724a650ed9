"""A call's recording played in chromium: a real sipp call to op101, recorded by the
dial plan's MixMonitor, then the operator who took it and a supervisor play it in the
client card's timeline; the page's player loads it, plays it and seeks (the server
answers Range with 206), and each listener is audited once. Another
operator, the client's own manager even, gets neither the link nor the file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import (
    ASTERISK,
    LOCAL_IP,
    Phone,
    SippProcess,
    free_udp_port,
    render,
    silence_file,
)
from callcenter.models import AuditEntry, Call
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

WAV_HEADER = 44  # MixMonitor's .wav: a bare RIFF header, then 8 kHz 16-bit mono
WAV_BYTES_PER_SECOND = 16_000
TALK_SECONDS = 4


class TalkingCaller(SippProcess):
    """A customer who calls ``did`` and sends sound (PCMU silence) from the answer until
    they hang up ``hold_ms`` later. MixMonitor writes only the frames that pass, so the
    usual ``Caller``, which sends no RTP, leaves a recording of a bare header."""

    def __init__(self, workdir: Path, *, did: str, cidnum: str, hold_ms: int) -> None:
        port = free_udp_port()
        scenario = render("caller_uac.xml", did=did, cidnum=cidnum, cidname="", hold_ms=hold_ms)
        talk = "<!-- talk:"
        assert talk in scenario, "caller_uac.xml changed: where does the talk start?"
        sound = f'<nop><action><exec rtp_stream="{silence_file(workdir)},-1,0"/></action></nop>'
        scenario = scenario.replace(talk, sound + "\n  " + talk)
        args = [f"{ASTERISK[0]}:{ASTERISK[1]}", "-i", LOCAL_IP, "-p", str(port), "-m", "1"]
        super().__init__(f"talker-{port}", workdir, scenario, args)


async def recorded_call(db: async_sessionmaker[AsyncSession], folder: Path) -> tuple[Call, bytes]:
    """The call, once it ended, and its recording, once MixMonitor closed the file."""
    async with asyncio.timeout(20):
        while True:
            async with db() as session:
                call = await session.scalar(select(Call).where(Call.ended_at.is_not(None)))
            if call is not None:
                break
            await asyncio.sleep(0.2)
        assert call.recording_path is not None, "the ended call names no recording"
        file = folder / call.recording_path
        size = -1
        while not file.exists() or file.stat().st_size != size:
            size = file.stat().st_size if file.exists() else -1
            await asyncio.sleep(0.3)
    return call, file.read_bytes()


async def plays(db: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            select(AuditEntry.actor_id, AuditEntry.entity_type, AuditEntry.entity_id)
            .where(AuditEntry.action == "recording.play")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]


RANGE_FETCH = """async ([url, range]) => {
    const response = await fetch(url, { headers: { Range: range }, credentials: "same-origin" });
    return {
        status: response.status,
        range: response.headers.get("Content-Range"),
        bytes: Array.from(new Uint8Array(await response.arrayBuffer())),
    };
}"""


async def test_the_operator_and_a_supervisor_play_the_recording_another_operator_may_not(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    world = await make_world(db)  # the client "Петров Иван" is managed by op102
    async with db() as session:
        boss = await add_user(
            session, login="boss", full_name="Ольга", role="supervisor", password="correct-horse"
        )
        await session.commit()
    await wait_ami_connected(live_server.address)
    operator_phone("101", ring_ms=200)
    talker = TalkingCaller(sipp_dir, did="101", cidnum="84951234567", hold_ms=TALK_SECONDS * 1000)
    with talker:
        await asyncio.to_thread(talker.wait, 30)
    call, recording = await recorded_call(db, live_server.settings.recordings_folder)
    assert call.answered_by_id == world.operators["101"].id
    assert call.contact_id == world.contact_id
    assert recording[:4] == b"RIFF"
    seconds = (len(recording) - WAV_HEADER) / WAV_BYTES_PER_SECOND
    assert TALK_SECONDS - 1 < seconds < TALK_SECONDS + 1, len(recording)
    url = f"/calls/{call.id}/recording"

    for login in ("op101", "boss"):
        page = await signed_in_page(browser, live_server, login)
        served: list[tuple[int, str | None]] = []
        page.on(
            "response",
            lambda r, served=served: (
                served.append((r.status, r.request.headers.get("range")))
                if r.url.endswith(url)
                else None
            ),
        )
        await page.goto(live_server.address + f"/clients/{world.contact_id}")
        entry = page.locator("[data-testid=timeline-entry][data-kind=call]")
        link = entry.get_by_test_id("recording-link")
        assert await link.get_attribute("href") == url
        # the card's own player: nothing is fetched until it plays (preload="none")
        player = entry.get_by_test_id("recording-player")
        assert await player.get_attribute("src") == url
        assert served == []
        await entry.click()  # a user's gesture: the page may now make a sound
        await player.evaluate("m => m.play()")
        await page.wait_for_function(
            "() => { const m = document.querySelector('video, audio');"
            " return m && m.readyState >= 1 && m.duration > 0; }",
            timeout=10_000,
        )
        duration = await page.evaluate("() => document.querySelector('video, audio').duration")
        assert duration == pytest.approx(seconds, abs=0.05), login
        # seek to the middle, then it plays on from there
        middle = await page.evaluate(
            """async () => {
                const m = document.querySelector("video, audio");
                m.pause();
                const seeked = new Promise((done) => {
                    m.addEventListener("seeked", done, { once: true });
                });
                m.currentTime = m.duration / 2;
                await seeked;
                await m.play();
                return m.currentTime;
            }"""
        )
        assert middle == pytest.approx(seconds / 2, abs=0.1), login
        await page.wait_for_function(
            "(from) => document.querySelector('video, audio').currentTime > from + 0.5",
            arg=middle,
            timeout=5000,
        )
        assert (206, "bytes=0-") in served, served  # the player's own request
        part = await page.evaluate(RANGE_FETCH, [url, "bytes=1000-1999"])
        assert part["status"] == 206
        assert part["range"] == f"bytes 1000-1999/{len(recording)}"
        assert bytes(part["bytes"]) == recording[1000:2000]
        assert page.js_errors == []
        await page.close()

    # one entry per listener, however many requests their player made
    assert await plays(db) == [
        (world.operators["101"].id, "call", str(call.id)),
        (boss.id, "call", str(call.id)),
    ]

    dmitry = await signed_in_page(browser, live_server, "op102")
    await dmitry.goto(live_server.address + f"/clients/{world.contact_id}")
    await dmitry.locator("[data-testid=timeline-entry][data-kind=call]").wait_for()
    assert await dmitry.get_by_test_id("recording-link").count() == 0
    response = await dmitry.goto(live_server.address + url)
    assert response.status == 403
    await dmitry.goto(live_server.address + "/")
    part = await dmitry.evaluate(RANGE_FETCH, [url, "bytes=1000-1999"])
    assert part["status"] == 403 and part["range"] is None
    assert len(await plays(db)) == 2
    assert dmitry.js_errors == []
