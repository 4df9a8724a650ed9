"""Issue 7, item 2 in the browser: an open console while the AMI link is frozen, then cut.

``serve`` runs with its AMI link through a proxy the test controls. The proxy
freezes the link (no RST: only the product's Ping watchdog can notice) and
refuses new connections, so the link stays down: the open console must say
"telephony unavailable" without a reload, click-to-dial must answer a clear
error, and once the proxy lets the link back the notice goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus
from callcenter.models import Call
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer, free_tcp_port
from tests.integration.test_ami_link import AmiProxy

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

DETECTED_WITHIN = 15.0  # seconds, with the product's own watchdog timings


@pytest.fixture
async def proxy(asterisk_sandbox: SandboxStatus) -> AsyncIterator[AmiProxy]:
    async with AmiProxy(asterisk_sandbox.ami_port) as running:
        yield running


@pytest.fixture
async def served_through_proxy(
    database_url: str, proxy: AmiProxy, tmp_path: Path
) -> AsyncIterator[LiveServer]:
    """``callcenter serve`` as the ``live_server`` fixture runs it, its AMI on the proxy."""
    from callcenter.app.runtime import serve

    settings = load_settings(
        {
            "CALLCENTER_HTTP_PORT": str(free_tcp_port()),
            "CALLCENTER_AGI_PORT": str(free_tcp_port()),
            "CALLCENTER_DATA_DIR": str(tmp_path / "data"),
            "CALLCENTER_AMI_PORT": str(proxy.port),
        }
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_ready(address: str) -> None:
        ready.set_result(address)

    server = asyncio.create_task(
        serve(settings, stop=stop, on_ready=on_ready, database_url=database_url)
    )
    try:
        done, _ = await asyncio.wait({server, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if server in done:
            server.result()
        yield LiveServer(await asyncio.wait_for(ready, 1), settings)
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)


async def test_the_open_console_says_telephony_is_down_and_dialling_fails_clearly(
    browser: Any,
    served_through_proxy: LiveServer,
    proxy: AmiProxy,
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        operator = await add_user(
            session,
            login="op101",
            full_name="Анна Смирнова",
            role="operator",
            password="correct-horse",
            extension="101",
            device="PJSIP/op101",
        )
        # a call in her recent calls: its number is a click-to-dial link
        session.add(
            Call(
                linkedid="1700000000.1",
                direction="inbound",
                caller_number="84951234567",
                caller_e164="+74951234567",
                started_at=datetime.now(UTC),
                ended_at=datetime.now(UTC),
                answered_by_id=operator.id,
                result="answered",
            )
        )
        await session.commit()

    page = await signed_in_page(browser, served_through_proxy, "op101")
    badge = page.get_by_test_id("telephony-state")
    notice = page.get_by_test_id("telephony-unavailable")
    await page.wait_for_selector("[data-testid=telephony-state][data-state=connected]")
    assert await notice.is_hidden()

    frozen = time.monotonic()
    proxy.refusing = True  # once the watchdog drops it, the link cannot come back
    proxy.freeze()
    await page.wait_for_selector(
        "[data-testid=telephony-unavailable]:visible", timeout=(DETECTED_WITHIN + 5) * 1000
    )
    shown = time.monotonic() - frozen
    assert shown <= DETECTED_WITHIN, shown
    # down, or trying again ("connecting"): never "connected" while the proxy refuses
    assert await badge.get_attribute("data-state") in {"disconnected", "connecting"}
    assert "Телефония: " in await badge.inner_text()
    assert "Телефония недоступна" in await notice.inner_text()

    dial = page.locator("[data-testid=recent-calls] a.dial")
    await dial.click()
    await page.wait_for_selector("[data-testid=recent-calls] a.dial[data-dial-state=failed]")
    assert await dial.get_attribute("title") == "telephony unavailable: the AMI link is down"
    answer = await page.evaluate(
        """async () => {
            const r = await fetch("/api/v1/dial", {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({number: "+74951234567"})});
            return {status: r.status, body: await r.json()};
        }"""
    )
    assert answer["status"] == 503, answer
    assert proxy.count("Originate") == 0  # nothing was sent into the dead link

    proxy.refusing = False
    await page.wait_for_selector(
        "[data-testid=telephony-state][data-state=connected]", timeout=15000
    )
    assert await notice.is_hidden()
    assert "подключена" in await badge.inner_text()
    assert page.js_errors == []
