"""Reports in chromium after real sipp calls: the totals match the calls this test made.

One caller gives up waiting while nobody answers; then Анна's phone answers three
calls in a row. The call report by operator and by queue, the missed-calls list and
the XLSX export must show exactly those calls: three answered by Анна, one missed
and not called back, four in all.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox.sipp import Caller, ImpatientCaller, Phone
from callcenter.models import Call
from callcenter.users import add_user
from tests.browser.test_console import wait_ami_connected
from tests.browser.test_screen_pop import signed_in_page
from tests.conftest import LiveServer
from tests.integration.cti_helpers import make_world

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.asterisk]

ANSWERED = 3
GAVE_UP = "84957654321"


async def _finished_calls(db: async_sessionmaker[AsyncSession], count: int) -> None:
    async with asyncio.timeout(60):
        while True:
            async with db() as session:
                done = await session.scalar(
                    select(func.count()).select_from(Call).where(Call.result != "in_progress")
                )
            if done >= count:
                return
            await asyncio.sleep(0.3)


def _cells(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows}


async def _table(page: Any) -> tuple[dict[str, list[str]], list[str]]:
    rows = await page.locator("[data-testid=report-row]").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    totals = await page.locator("[data-testid=report-totals] th").all_inner_texts()
    return _cells(rows), [t.strip() for t in totals]


async def test_report_totals_match_the_calls_placed(
    browser: Any,
    live_server: LiveServer,
    db: async_sessionmaker[AsyncSession],
    operator_phone: Callable[..., Phone],
    sipp_dir: Path,
) -> None:
    await make_world(db)  # op101 Анна Смирнова, op102 Дмитрий Кузнецов: the queue "support"
    async with db() as session:
        await add_user(
            session, login="boss", full_name="Ольга", role="supervisor", password="correct-horse"
        )
        await session.commit()
    await wait_ami_connected(live_server.address)
    operator_phone("102", answer=False)
    with ImpatientCaller(sipp_dir, cidnum=GAVE_UP, wait_ms=3000):
        await _finished_calls(db, 1)
    operator_phone("101", ring_ms=300)
    caller = Caller(sipp_dir, cidnum="84950001122", calls=ANSWERED, rate=1, hold_ms=800)
    with caller.start():
        await _finished_calls(db, 1 + ANSWERED)

    page = await signed_in_page(browser, live_server, "boss")
    await page.click("[data-testid=nav-reports]")
    await page.click("[data-testid=report-calls]")
    await page.select_option("[data-testid=report-by]", "operator")
    await page.click("[data-testid=report-form] button[type=submit]")
    await page.wait_for_selector("[data-testid=report-chart]")
    rows, totals = await _table(page)
    # columns: calls, answered, share answered, missed, ...
    assert rows["Анна Смирнова"][:2] == [str(ANSWERED), str(ANSWERED)]
    assert rows["без ответа"][:2] == ["1", "0"]
    assert totals[1:3] == [str(ANSWERED + 1), str(ANSWERED)]
    assert totals[4] == "1"

    async with page.expect_download() as download_info:
        await page.click("[data-testid=export-xlsx]")
    download = await download_info.value
    assert download.suggested_filename == "report-calls.xlsx"
    content = await asyncio.to_thread(Path(await download.path()).read_bytes)
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = {row[0]: row[1:] for row in book.active.iter_rows(values_only=True)}
    assert sheet["Анна Смирнова"][:2] == (ANSWERED, ANSWERED)
    assert sheet["Итого"][:2] == (ANSWERED + 1, ANSWERED)
    assert sheet["Анна Смирнова"][4] > 0  # talk seconds, as a number

    # every other grouping of the same calls: one row holds them all, the totals agree
    calls = [str(ANSWERED + 1), str(ANSWERED)]
    for by, row in (
        ("queue", "support"),
        ("campaign", "без кампании"),
        ("channel", "без номера отслеживания"),  # the test's DID is no tracking number
        ("region", None),  # Moscow numbers, the caller who gave up and the three
        ("period", None),
    ):
        await page.select_option("[data-testid=report-by]", by)
        await page.click("[data-testid=report-form] button[type=submit]")
        await page.wait_for_selector("[data-testid=report-chart]")
        rows, totals = await _table(page)
        assert totals[1:3] == calls, by
        if row is not None:
            assert rows[row][:2] == calls, by
        else:
            assert sum(int(cells[0]) for cells in rows.values()) == ANSWERED + 1, by

    await page.click("[data-testid=report-missed]")
    await page.wait_for_selector("[data-testid=report-table]")
    rows, totals = await _table(page)
    assert [number for _, (number, *_rest) in rows.items()] == [GAVE_UP]
    assert totals[1] == "1"

    await page.click("[data-testid=report-load]")
    rows, _ = await _table(page)
    # logged in, answered, talk: Анна took the three calls
    assert rows["Анна Смирнова"][1] == str(ANSWERED)
    assert rows["Анна Смирнова"][2] != "0:00:00"
    assert page.js_errors == []
