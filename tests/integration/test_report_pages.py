"""Report pages over HTTP: figures, exports (CSV and XLSX contents), errors and roles."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import AuditEntry, Call, Campaign, Task
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.test_import_pages import sign_in
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.i18n import merged_catalogue
from web.report_pages import REPORTS
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
Login = Callable[[str], Awaitable[TestClient[Any, Any]]]
MOSCOW = ZoneInfo("Europe/Moscow")
EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
async def login(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, tmp_path: Path
) -> Login:
    async def signed_in(name: str) -> TestClient[Any, Any]:
        settings = load_settings(
            {"CALLCENTER_DATA_DIR": str(tmp_path / "data"), "CALLCENTER_TIME_ZONE": MOSCOW.key}
        )
        client = await aiohttp_client(
            create_app(WebServices(settings, db, unconnected_telephony()))
        )
        await sign_in(client, name)
        return client

    return signed_in


async def _calls(db: async_sessionmaker[AsyncSession]) -> datetime:
    """Today: Анна answers three calls (one of a campaign with a hostile name), one caller
    gives up waiting and is not called back yet. Returns the first call's start."""
    start = datetime.now(MOSCOW).replace(hour=0, minute=30, second=0, microsecond=0)
    async with db() as session:
        for name, role in (("boss", "manager"), ("super", "supervisor"), ("op", "operator")):
            await add_user(session, login=name, full_name=name, role=role, password="correct-horse")
        anna = await add_user(
            session, login="anna", full_name="Анна", role="operator", password="correct-horse"
        )
        campaign = Campaign(name=EVIL, mode="progressive")
        session.add(campaign)
        await session.flush()
        for n, talk in enumerate((60, 120, 30)):
            at = start + timedelta(minutes=10 * n)
            session.add(
                Call(
                    linkedid=f"a{n}",
                    direction="inbound",
                    queue_name="sales",
                    answered_by_id=anna.id,
                    campaign_id=campaign.id if n == 0 else None,
                    started_at=at,
                    answered_at=at + timedelta(seconds=10),
                    ended_at=at + timedelta(seconds=10 + talk),
                    wait_seconds=10,
                    talk_seconds=talk,
                    result="answered",
                )
            )
        missed = Call(
            linkedid="m1",
            direction="inbound",
            queue_name="sales",
            caller_number="+74951234567",
            started_at=start + timedelta(minutes=40),
            ended_at=start + timedelta(minutes=41),
            wait_seconds=60,
            result="abandoned",
        )
        session.add(missed)
        await session.flush()
        session.add(Task(kind="callback", title="Перезвонить", call_id=missed.id, due_at=start))
        await session.commit()
    return start


async def test_calls_by_operator_with_totals_and_both_exports(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    start = await _calls(db)
    client = await login("super")
    day = start.date().isoformat()
    page = await client.get(f"/reports/calls?by=operator&from={day}&to={day}")
    assert page.status == 200
    html = await page.text()
    assert "Анна" in html and "Итого" in html and 'data-testid="report-chart"' in html

    sheet = await client.get(f"/reports/calls?by=operator&from={day}&to={day}&format=xlsx")
    assert sheet.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await sheet.read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Оператор", "Звонки", "Ответили")
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Анна"][1:3] == (3, 3)
    assert by_name["Анна"][5] == 210  # talk seconds, a number a spreadsheet can sum
    assert by_name["без ответа"][1:3] == (1, 0)
    assert by_name["Итого"][1] == 4

    text = (
        await (
            await client.get(f"/reports/calls?by=campaign&from={day}&to={day}&format=csv")
        ).read()
    ).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    by_campaign = {row[0]: row[1:3] for row in table[1:]}
    assert by_campaign["'" + EVIL] == ["1", "1"]  # the campaign's name, never a formula
    assert by_campaign["без кампании"] == ["3", "2"]
    async with db() as session:
        exports = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "report.export"))
        )
    assert [e.entity_id for e in exports] == ["calls", "calls"]


async def test_the_missed_list_and_every_report_page_speak_russian(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    start = await _calls(db)
    client = await login("boss")
    day = start.date().isoformat()
    missed = await (await client.get(f"/reports/missed?from={day}&to={day}")).text()
    assert "+74951234567" in missed and "любой оператор" in missed
    russian = {m.id: m.string for m in merged_catalogue("ru") if m.id}
    for name in REPORTS:
        page = await client.get(f"/reports/{name}?from={day}&to={day}")
        assert page.status == 200, name
        html = await page.text()
        untranslated = [m for m in russian if f"<th>{m}</th>" in html]
        assert untranslated == [], name


async def test_a_bad_period_is_refused_with_its_field_and_operators_see_no_reports(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    await _calls(db)
    client = await login("super")
    bad = await client.get("/reports/calls?from=2026-02-30&by=nothing")
    assert bad.status == 400
    assert "Дата в виде ГГГГ-ММ-ДД" in await bad.text()
    wrong = await client.get("/reports/calls?by=nothing")
    assert wrong.status == 400 and "Выберите, как группировать" in await wrong.text()
    assert (await client.get("/reports/nothing")).status == 404
    operator = await login("op")
    for path in ("/reports", "/reports/calls", "/reports/calls?format=xlsx", "/reports/missed"):
        assert (await operator.get(path, allow_redirects=False)).status == 403, path
