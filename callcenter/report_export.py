"""A report's table as a CSV or XLSX file: numbers stay numbers, text never becomes a formula.

Reports are summaries (a row per operator, day, channel ...), so the table is built in
memory; the client exports (``contact_export``) stream instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import xlsxwriter

from callcenter.contact_export import DATE_PATTERN, ExportFormat
from callcenter.spreadsheet import neutralise_cell

Cell = str | int | float | Decimal | datetime | None


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime(DATE_PATTERN)
    if isinstance(cell, str):
        return neutralise_cell(cell)
    return str(cell)


def report_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    stream = io.StringIO(newline="")
    writer = csv.writer(stream, delimiter=";")  # what Russian Excel expects
    writer.writerow([neutralise_cell(name) for name in header])
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    # the BOM tells Excel the file is UTF-8, so Cyrillic reads right
    return ("\ufeff" + stream.getvalue()).encode("utf-8")


def report_xlsx(title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = book.add_worksheet(title[:31])  # Excel's limit on a sheet's name
    bold = book.add_format({"bold": True})
    moment = book.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    for col, name in enumerate(header):
        sheet.write_string(0, col, neutralise_cell(name), bold)
    for number, row in enumerate(rows, 1):
        for col, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, datetime):
                sheet.write_datetime(number, col, cell.replace(tzinfo=None), moment)
            elif isinstance(cell, (int, float, Decimal)):
                sheet.write_number(number, col, float(cell))
            else:
                # write_string, never write(): a text cell is never read as a formula
                sheet.write_string(number, col, neutralise_cell(cell))
    book.close()
    return output.getvalue()


def report_file(
    fmt: ExportFormat, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> bytes:
    if fmt == ExportFormat.CSV:
        return report_csv(header, rows)
    return report_xlsx(title, header, rows)
