"""A page's list as a download: the same URL with ``?format=csv`` or ``?format=xlsx``.

The list is the one the page shows (same filters, same visibility), so a download
never holds more than its reader may see. Files come from ``report_export``: text
cells can never run as formulas, numbers and dates stay numbers and dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.contact_export import ExportFormat
from callcenter.report_export import Cell, report_file

CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def requested_format(request: web.Request) -> ExportFormat | None:
    """The download asked for, None for the page itself; 400 for an unknown format."""
    wanted = request.query.get("format", "")
    if not wanted:
        return None
    try:
        return ExportFormat(wanted)
    except ValueError:
        raise web.HTTPBadRequest(text="format must be csv or xlsx") from None


def download_links(request: web.Request) -> dict[str, str]:
    """The page's own query with each format, for its CSV / XLSX links."""
    query = {k: v for k, v in request.query.items() if k != "format"}
    return {fmt.value: urlencode({**query, "format": fmt.value}) for fmt in ExportFormat}


def local_time(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A moment as its reader's wall clock shows it (the files carry no zone)."""
    return None if moment is None else moment.astimezone(zone)


def list_file(
    fmt: ExportFormat, stem: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> web.Response:
    return web.Response(
        body=report_file(fmt, title, header, rows),
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{stem}.{fmt.value}"',
        },
    )
