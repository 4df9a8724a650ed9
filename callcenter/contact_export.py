"""Exporting a list of clients to CSV or XLSX, in memory that does not grow with the list.

Rows come from the database through a server-side cursor, a batch at a time, and go
straight into a file (the web layer sends it and deletes it). Every text cell passes
through ``neutralise_cell``, so nothing a client typed runs as a formula; phone
numbers stay ``+74951234567`` as people read them. Each export is written to the
audit log with its filter and row count (152-FZ: who exported personal data).
"""

from __future__ import annotations

import asyncio
import csv
import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import xlsxwriter
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.lookup import display_name
from callcenter.models import AdChannel, Company, Contact, ContactEmail, ContactPhone, User
from callcenter.segments import last_contact
from callcenter.spreadsheet import is_plain_phone, neutralise_cell

BATCH_ROWS = 1000
# column titles: English message ids, put into the reader's words by ``label``
COLUMNS = (
    "ID",
    "Name",
    "Company",
    "Phones",
    "E-mails",
    "Status",
    "Manager",
    "Ad channel",
    "Tags",
    "Region",
    "Time zone",
    "Last contact",
)
DATE_PATTERN = "%d.%m.%Y %H:%M"
DELIMITERS = (";", ",")  # ";" is what Russian Excel expects


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def phones_cell(phones: Sequence[str]) -> str:
    # numbers side by side ("+7…, +7…") hold no formula: kept readable, not quoted
    joined = ", ".join(phones)
    return joined if all(is_plain_phone(p) for p in phones) else neutralise_cell(joined)


def _query(where: ColumnElement[bool]) -> Any:
    phones = (
        select(func.array_agg(aggregate_order_by(ContactPhone.e164, ContactPhone.id)))
        .where(ContactPhone.contact_id == Contact.id)
        .scalar_subquery()
    )
    emails = (
        select(func.array_agg(aggregate_order_by(ContactEmail.email, ContactEmail.id)))
        .where(ContactEmail.contact_id == Contact.id)
        .scalar_subquery()
    )
    return (
        select(
            Contact.id,
            Contact.display_name,
            Contact.last_name,
            Contact.first_name,
            Contact.middle_name,
            Company.name,
            phones,
            emails,
            Contact.status,
            User.full_name,
            AdChannel.name,
            Contact.tags,
            Contact.region,
            Contact.time_zone,
            last_contact(),
        )
        .outerjoin(Company, Company.id == Contact.company_id)
        .outerjoin(User, User.id == Contact.manager_id)
        .outerjoin(AdChannel, AdChannel.id == Contact.ad_channel_id)
        .where(where)
        .order_by(Contact.id)
        .execution_options(yield_per=BATCH_ROWS)
    )


class _Sheet(Protocol):
    def header(self, names: Sequence[str]) -> None: ...
    def rows(self, rows: Sequence[Any]) -> None: ...
    def close(self) -> None: ...


class _Cells:
    """Turns a database row into cells: text neutralised, statuses in the reader's words."""

    def __init__(self, zone: ZoneInfo, label: Callable[[str], str]) -> None:
        self.zone = zone
        self.label = label

    def texts(self, row: Any) -> list[str]:
        (_, display, last, first, middle, company, phones, emails, status) = row[:9]
        manager, channel, tags, region, time_zone = row[9:14]
        cells = [
            display_name(display, last, first, middle),
            company or "",
            "",  # phones: below
            ", ".join(emails or ()),
            self.label(status),
            manager or "",
            channel or "",
            ", ".join(tags or ()),
            region or "",
            time_zone or "",
        ]
        cells = [neutralise_cell(cell) for cell in cells]
        cells[2] = phones_cell(phones or ())
        return cells

    def local(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self.zone) if moment is not None else None


class _CsvSheet:
    def __init__(self, path: Path, cells: _Cells, delimiter: str) -> None:
        # utf-8-sig: the BOM tells Excel the file is UTF-8, so Cyrillic reads right
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file, delimiter=delimiter)
        self._cells = cells

    def header(self, names: Sequence[str]) -> None:
        self._writer.writerow([neutralise_cell(name) for name in names])

    def rows(self, rows: Sequence[Any]) -> None:
        for row in rows:
            moment = self._cells.local(row[14])
            self._writer.writerow(
                [row[0], *self._cells.texts(row), moment.strftime(DATE_PATTERN) if moment else ""]
            )

    def close(self) -> None:
        self._file.close()


class _XlsxSheet:
    def __init__(self, path: Path, cells: _Cells) -> None:
        # constant_memory: each row goes to disk once written, strings inline
        self._book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "tmpdir": str(path.parent)}
        )
        self._sheet = self._book.add_worksheet()
        self._date = self._book.add_format({"num_format": "dd.mm.yyyy hh:mm"})
        self._cells = cells
        self._row = 0

    def header(self, names: Sequence[str]) -> None:
        for col, name in enumerate(names):
            self._sheet.write_string(0, col, neutralise_cell(name))
        self._row = 1

    def rows(self, rows: Sequence[Any]) -> None:
        sheet = self._sheet
        for row in rows:
            sheet.write_number(self._row, 0, row[0])
            # write_string, never write(): a text cell is never read as a formula or number
            for col, cell in enumerate(self._cells.texts(row), 1):
                if cell:
                    sheet.write_string(self._row, col, cell)
            moment = self._cells.local(row[14])
            if moment is not None:
                sheet.write_datetime(self._row, 11, moment.replace(tzinfo=None), self._date)
            self._row += 1

    def close(self) -> None:
        self._book.close()


async def write_clients(
    session: AsyncSession,
    where: ColumnElement[bool],
    path: Path,
    fmt: ExportFormat,
    *,
    zone: ZoneInfo,
    label: Callable[[str], str] = str,
    delimiter: str = ";",
) -> int:
    """Write the clients matching ``where`` (merged-away ones excluded) to ``path``; the
    number of clients written. ``label`` turns column names and statuses into words."""
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be one of {DELIMITERS}")
    cells = _Cells(zone, label)
    sheet: _Sheet = (
        _CsvSheet(path, cells, delimiter) if fmt == ExportFormat.CSV else _XlsxSheet(path, cells)
    )
    written = 0
    try:
        sheet.header([label(name) for name in COLUMNS])
        result = await session.stream(_query(where & Contact.merged_into_id.is_(None)))
        async for batch in result.partitions(BATCH_ROWS):
            sheet.rows(batch)
            written += len(batch)
    finally:
        # zipping a large workbook takes a while: not on the event loop
        await asyncio.to_thread(sheet.close)
    return written


async def export_clients(
    session: AsyncSession,
    actor: User,
    where: ColumnElement[bool],
    path: Path,
    fmt: ExportFormat,
    *,
    described_as: dict[str, Any],
    zone: ZoneInfo,
    label: Callable[[str], str] = str,
    delimiter: str = ";",
    ip: str | None = None,
) -> int:
    """``write_clients`` plus the audit entry ``contacts.export`` (the caller commits).

    ``where`` must already hold the actor's ``visible_contacts`` clause;
    ``described_as`` says what was exported (a segment, a search) for the audit log.
    """
    written = await write_clients(
        session, where, path, fmt, zone=zone, label=label, delimiter=delimiter
    )
    await audit.record(
        session,
        actor,
        "contacts.export",
        ip=ip,
        format=fmt.value,
        filter=described_as,
        rows=written,
    )
    return written
