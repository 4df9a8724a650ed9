"""Issue 7, item 4: the web server restarts while operators are connected; their
browsers reconnect and show every pop they missed exactly once.

The whole product (``serve``: web, hub, AMI listener) runs on a fixed port and is
stopped and started again, a new process's worth of state each time, while two
operators' Chromium pages stay on the console. Calls come from the replay PBX: frames
recorded from the real Asterisk, played on command; the new server learns the calls
that began while it was down from the link's CoreShowChannels, as from Asterisk.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.replay_pbx import ReplayPbx
from callcenter.app.runtime import serve
from callcenter.settings import Settings, load_settings
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer, free_tcp_port
from tests.integration.cti_helpers import make_world, until
from tests.reliability_figures import record
from tests.replay_calls import ANSWERED_AFTER, HUNG_UP_AFTER, call_frames, linkedid

pytestmark = [pytest.mark.browser, pytest.mark.db]

OP101, OP102 = "PJSIP/op101", "PJSIP/op102"
RINGING = ANSWERED_AFTER - 0.5  # a call's frames up to here: it still rings
TALKING = HUNG_UP_AFTER - 1.0  # up to here: answered, still talking
DOWN_SECONDS = 3.0  # about what a restart of the service takes


class RestartableServer:
    """``serve`` as ``callcenter serve`` runs it, which a test can stop and start again."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.address = f"http://{settings.http_host}:{settings.http_port}"
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def on_ready(address: str) -> None:
            ready.set_result(address)

        self._task = asyncio.create_task(
            serve(self.settings, stop=self._stop, on_ready=on_ready, database_url=self.database_url)
        )
        done, _ = await asyncio.wait({self._task, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if self._task in done:
            self._task.result()  # raises what stopped it
        assert await asyncio.wait_for(ready, 1) == self.address

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            await asyncio.wait_for(task, 30)


# how many pop cards the page shows for a call
_CARDS = (
    """(id) => document.querySelectorAll('[data-testid=pop][data-linkedid="' + id + '"]').length"""
)


async def pop_counts(page: Any, calls: list[str]) -> dict[str, int]:
    counts: list[int] = await page.evaluate(f"(ids) => ids.map({_CARDS})", calls)
    return dict(zip(calls, counts, strict=True))


async def showing(page: Any, wanted: dict[str, int], seconds: float = 20) -> None:
    """Wait until the page shows exactly these numbers of cards."""
    await page.wait_for_function(
        f"(wanted) => Object.entries(wanted).every(([id, n]) => ({_CARDS})(id) === n)",
        arg=wanted,
        timeout=seconds * 1000,
    )


async def test_operators_get_every_pop_missed_during_a_web_restart_exactly_once(
    browser: Any, database_url: str, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await make_world(db)  # op101 Анна and op102 Дмитрий; 84951234567 is a known client
    first, missed_by_anna, missed_by_dmitry = linkedid(0), linkedid(1), linkedid(2)
    gone, talk = linkedid(0, copy=1), linkedid(1, copy=2)  # they end while it is down
    calls = [first, missed_by_anna, missed_by_dmitry, gone, talk]
    async with ReplayPbx() as pbx:
        settings = load_settings(
            {
                "CALLCENTER_HTTP_PORT": str(free_tcp_port()),
                "CALLCENTER_AGI_PORT": str(free_tcp_port()),
                "CALLCENTER_DATA_DIR": str(tmp_path / "data"),
                "CALLCENTER_RECORDINGS_DIR": str(tmp_path / "recordings"),
                "CALLCENTER_AMI_HOST": pbx.host,
                "CALLCENTER_AMI_PORT": str(pbx.port),
            }
        )
        server = RestartableServer(settings, database_url)
        await server.start()
        try:
            live = LiveServer(server.address, settings)
            assert (await wait_ami_connected(server.address))["ami"]["connected"]
            anna = await signed_in_page(browser, live, "op101")
            dmitry = await signed_in_page(browser, live, "op102")

            # popped the ordinary way: a call rings Анна, another Дмитрий; Анна talks
            await pbx.play(call_frames(0, until=RINGING, without=OP102))
            await pbx.play(call_frames(0, until=RINGING, without=OP101, copy=1))
            await pbx.play(call_frames(1, until=TALKING, without=OP102, copy=2))
            pop = anna.locator(f'[data-testid=pop][data-linkedid="{first}"][data-state=ringing]')
            await pop.wait_for(timeout=5000)
            await pop.get_by_test_id("pop-name").filter(has_text="Петров Иван").wait_for()
            await pop.evaluate("(card) => { card.dataset.drawnBefore = 'restart'; }")
            talking = anna.locator(f'[data-testid=pop][data-linkedid="{talk}"]')
            await anna.locator(f'[data-linkedid="{talk}"][data-state=talking]').wait_for()
            await dmitry.locator(f'[data-linkedid="{gone}"][data-state=ringing]').wait_for()

            # the web server goes away; meanwhile a call rings each of them, and the
            # call ringing Дмитрий and Анна's talk end
            await server.stop()
            down_at = time.monotonic()
            for page in (anna, dmitry):
                await page.wait_for_selector("[data-testid=live-state][data-state=closed]")
            await pbx.play(call_frames(1, until=RINGING, without=OP102))
            await pbx.play(call_frames(2, until=RINGING, without=OP101))
            await pbx.play(call_frames(0, since=RINGING, until=60, without=OP101, copy=1))
            await pbx.play(call_frames(1, since=TALKING, until=60, without=OP102, copy=2))
            live_calls = {first, missed_by_anna, missed_by_dmitry}
            await until(lambda: pbx.live_linkedids() == live_calls, 5, "three live calls")
            await asyncio.sleep(DOWN_SECONDS)  # the browsers' retries meet a closed port

            await server.start()
            up_at = time.monotonic()
            await showing(anna, {first: 1, missed_by_anna: 1})
            await showing(dmitry, {missed_by_dmitry: 1, gone: 0})
            reconnect_seconds = time.monotonic() - up_at
            for page in (anna, dmitry):
                await page.wait_for_selector("[data-testid=live-state][data-state=open]")
            await asyncio.sleep(1.5)  # a duplicate would have arrived by now

            anna_pops, dmitry_pops = await pop_counts(anna, calls), await pop_counts(dmitry, calls)
            assert anna_pops == {first: 1, missed_by_anna: 1, missed_by_dmitry: 0, gone: 0, talk: 1}
            assert dmitry_pops == {
                first: 0,
                missed_by_anna: 0,
                missed_by_dmitry: 1,
                gone: 0,
                talk: 0,
            }
            # Анна's first pop is the same card, updated, never taken down and drawn again
            assert await pop.get_attribute("data-drawn-before") == "restart"
            assert await pop.get_attribute("data-state") == "ringing"
            assert await pop.get_by_test_id("pop-name").inner_text() == "Петров Иван"
            missed = dmitry.locator(f'[data-testid=pop][data-linkedid="{missed_by_dmitry}"]')
            assert await missed.get_by_test_id("pop-name").inner_text() == "Maria"
            assert await missed.get_attribute("data-state") == "ringing"
            # the talk that ended meanwhile waits for its result, the after-call form open
            assert await talking.get_attribute("data-state") == "wrapup"
            assert await talking.locator("form.wrapup").is_visible()

            # a page load draws the live calls from the picture of now, once each
            await anna.reload()
            await showing(anna, {first: 1, missed_by_anna: 1})
            await asyncio.sleep(1.0)
            reloaded = await pop_counts(anna, calls)
            assert reloaded == {first: 1, missed_by_anna: 1, missed_by_dmitry: 0, gone: 0, talk: 0}
            for page in (anna, dmitry):
                assert page.js_errors == []
        finally:
            await server.stop()

    record(
        "web_restart",
        operators=2,
        missed_pops=2,
        shown_exactly_once=anna_pops[missed_by_anna] == dmitry_pops[missed_by_dmitry] == 1,
        duplicated_pops=sum(n - 1 for n in (*anna_pops.values(), *dmitry_pops.values()) if n > 1),
        ended_while_down=2,
        ended_cards_cleared=dmitry_pops[gone] == 0 and anna_pops[talk] == 1,
        server_down_seconds=round(up_at - down_at, 2),
        reconnect_seconds=round(reconnect_seconds, 2),
    )
