"""Managers' and supervisors' reports: a page each, with a chart, totals and exports.

``/reports/calls?by=operator&from=2026-11-01&to=2026-11-30&group=day`` and the like;
``&format=csv`` or ``&format=xlsx`` sends the same table as a file (audited as
``report.export``). Periods are the center's days (``CALLCENTER_TIME_ZONE``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.call_reports import CallReport, Dimension, call_report
from callcenter.contact_export import ExportFormat
from callcenter.missed_calls import not_called_back
from callcenter.operator_load import operator_load
from callcenter.report_export import Cell
from callcenter.report_period import Bucket, PeriodError, ReportPeriod, parse_period
from callcenter.sales_reports import channel_report, funnel_report
from web.auth import LEADERS, requires
from web.json_api import me
from web.list_files import download_links, list_file
from web.pages import page_context
from web.state import SERVICES
from web.templating import gettext

# how a column's values are shown: the export keeps the raw value (seconds as numbers)
TEXT, NUMBER, SECONDS, PERCENT, MOMENT = "text", "number", "seconds", "percent", "moment"


@dataclass
class Table:
    title: str  # message ids, translated where shown
    columns: list[tuple[str, str]]  # (name, kind)
    rows: list[list[Cell]] = field(default_factory=list)
    totals: list[Cell] | None = None
    chart_column: int = 1  # the figure the bars show
    links: list[str | None] = field(default_factory=list)  # per row: the client card ...
    link_column: int = 0

    def chart(self) -> list[tuple[str, float, float]]:
        """(label, value, percent of the largest) per row, for the page's bars."""
        values = [_number(row[self.chart_column]) for row in self.rows]
        top = max(values, default=0) or 1
        return [
            (str(row[0] if row[0] is not None else "—"), value, round(100 * value / top, 1))
            for row, value in zip(self.rows, values, strict=True)
        ]


def _number(cell: Cell) -> float:
    return float(cell) if isinstance(cell, (int, float, Decimal)) else 0.0


def _center_zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SERVICES].settings.time_zone)


def _period(request: web.Request, default: Bucket = Bucket.DAY) -> ReportPeriod:
    zone = _center_zone(request)
    today = datetime.now(UTC).astimezone(zone).date()
    return parse_period(dict(request.query), zone, today, default)


def _none(text: str | None, instead: str) -> str:
    return text if text else gettext(instead)


# -- the reports ----------------------------------------------------------------------
def _calls_table(report: CallReport) -> Table:
    name = {
        Dimension.OPERATOR: "Operator",
        Dimension.QUEUE: "Queue",
        Dimension.CAMPAIGN: "Campaign",
        Dimension.CHANNEL: "Tracking number",
        Dimension.REGION: "Region",
        Dimension.PERIOD: "Period",
    }[report.dimension]
    nobody = {
        Dimension.OPERATOR: "not answered",
        Dimension.QUEUE: "no queue",
        Dimension.CAMPAIGN: "no campaign",
        Dimension.CHANNEL: "no tracking number",
        Dimension.REGION: "region unknown",
        Dimension.PERIOD: "",
    }[report.dimension]
    table = Table(
        "Calls",
        [
            (name, TEXT),
            ("Calls", NUMBER),
            ("Answered", NUMBER),
            ("Share answered", PERCENT),
            ("Missed", NUMBER),
            ("Talk time", SECONDS),
            ("Average talk", SECONDS),
            ("Average wait to answer", SECONDS),
        ],
    )

    def figures(f: Any) -> list[Cell]:
        return [
            f.calls,
            f.answered,
            f.answered_percent,
            f.missed,
            f.talk_seconds,
            f.average_talk,
            f.average_answer_wait,
        ]

    for row in report.rows:
        if report.dimension == Dimension.PERIOD:
            label = _bucket_label(datetime.fromisoformat(row.key), report.period.bucket)
        else:
            label = _none(row.label, nobody) if row.key else gettext(nobody)
        table.rows.append([label, *figures(row.figures)])
    table.totals = [gettext("Total"), *figures(report.totals)]
    return table


def _bucket_label(start: datetime, bucket: Bucket) -> str:
    if bucket == Bucket.HOUR:
        return start.strftime("%d.%m %H:00")
    if bucket == Bucket.MONTH:
        return start.strftime("%m.%Y")
    return start.strftime("%d.%m.%Y")


async def _calls(request: web.Request, session: AsyncSession, period: ReportPeriod) -> Table:
    try:
        dimension = Dimension(request.query.get("by") or Dimension.OPERATOR)
    except ValueError:
        raise PeriodError({"by": "Choose what to group the calls by"}) from None
    direction = request.query.get("direction") or None
    if direction not in (None, "inbound", "outbound", "internal"):
        raise PeriodError({"direction": "Choose inbound, outbound or internal calls"})
    return _calls_table(await call_report(session, dimension, period, direction=direction))


async def _missed(request: web.Request, session: AsyncSession, period: ReportPeriod) -> Table:
    table = Table(
        "Missed calls not called back",
        [
            ("Called at", MOMENT),
            ("Number", TEXT),
            ("Client", TEXT),
            ("Queue", TEXT),
            ("Waited", SECONDS),
            ("Callback assigned to", TEXT),
        ],
        chart_column=4,
        link_column=2,
    )
    zone = _center_zone(request)
    for line in await not_called_back(session, period.start, period.end):
        table.rows.append(
            [
                line.started_at.astimezone(zone),
                line.caller_number,
                line.client,
                line.queue,
                line.wait_seconds,
                line.assignee or gettext("any operator"),
            ]
        )
        table.links.append(f"/clients/{line.contact_id}" if line.contact_id else None)
    table.totals = [gettext("Total"), len(table.rows), None, None, None, None]
    return table


async def _load(request: web.Request, session: AsyncSession, period: ReportPeriod) -> Table:
    loads = await operator_load(session, period.start, period.end)
    reasons = sorted({reason for load in loads for reason in load.paused_seconds_by_reason})
    table = Table(
        "Operator load",
        [
            ("Operator", TEXT),
            ("Logged in", SECONDS),
            ("Answered", NUMBER),
            ("Talk time", SECONDS),
            ("Wrap-up", SECONDS),
            ("Paused", SECONDS),
            *((f"{gettext('Paused')}: {reason or '—'}", SECONDS) for reason in reasons),
            ("Idle", SECONDS),
        ],
        chart_column=3,
    )
    for load in loads:
        paused = load.paused_seconds_by_reason
        table.rows.append(
            [
                load.full_name,
                load.online_seconds,
                load.answered,
                load.talk_seconds,
                load.wrap_up_seconds,
                sum(paused.values()),
                *(paused.get(reason, 0) for reason in reasons),
                load.idle_seconds,
            ]
        )
    return table


async def _funnel(request: web.Request, session: AsyncSession, period: ReportPeriod) -> Table:
    report = await funnel_report(session, period)
    table = Table(
        "Funnel",
        [
            ("Stage", TEXT),
            ("Deals that reached it", NUMBER),
            ("Share of opened", PERCENT),
            ("Standing here now", NUMBER),
        ],
    )
    table.rows.append([gettext("Opened"), report.opened, 100.0 if report.opened else None, None])
    for stage in report.stages:
        table.rows.append(
            [stage.name, stage.reached, stage.percent_of(report.opened), stage.now_here]
        )
    lost = round(100 * report.lost / report.opened, 1) if report.opened else None
    table.rows.append([gettext("Lost"), report.lost, lost, None])
    for reason, deals in report.refusals:
        table.rows.append([f"{gettext('Lost')}: {reason}", deals, None, None])
    return table


async def _channels(request: web.Request, session: AsyncSession, period: ReportPeriod) -> Table:
    rows = await channel_report(session, period)
    table = Table(
        "Ad channels",
        [
            ("Channel", TEXT),
            ("Calls", NUMBER),
            ("New clients", NUMBER),
            ("Won deals", NUMBER),
            ("Won, amount", NUMBER),
        ],
    )
    for row in rows:
        table.rows.append(
            [
                _none(row.name, "no channel"),
                row.calls,
                row.new_clients,
                row.won_deals,
                row.won_amount,
            ]
        )
    table.totals = [
        gettext("Total"),
        *(sum(row[col] or 0 for row in table.rows) for col in range(1, 5)),  # type: ignore[misc]
    ]
    return table


Build = Callable[[web.Request, AsyncSession, ReportPeriod], Awaitable[Table]]
REPORTS: dict[str, tuple[str, Build]] = {
    "calls": ("Calls", _calls),
    "missed": ("Missed calls not called back", _missed),
    "load": ("Operator load", _load),
    "funnel": ("Funnel", _funnel),
    "channels": ("Ad channels", _channels),
}


# -- pages and files ------------------------------------------------------------------
@requires(*LEADERS)
async def reports_index(request: web.Request) -> web.StreamResponse:
    return aiohttp_jinja2.render_template(
        "reports.html", request, page_context(request, reports=REPORTS, report=None)
    )


@requires(*LEADERS)
async def report_page(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in REPORTS:
        raise web.HTTPNotFound()
    title, build = REPORTS[name]
    fmt = request.query.get("format", "")
    errors: dict[str, str] = {}
    table: Table | None = None
    period: ReportPeriod | None = None
    try:
        period = _period(request, Bucket.HOUR if name == "calls" else Bucket.DAY)
    except PeriodError as bad:
        errors = bad.errors
    if period is not None:
        async with request.app[SERVICES].db() as session:
            try:
                table = await build(request, session, period)
            except PeriodError as bad:
                errors = bad.errors
            if table is not None and fmt in (ExportFormat.CSV, ExportFormat.XLSX):
                await audit.record(
                    session,
                    me(request),
                    "report.export",
                    "report",
                    name,
                    ip=request.remote,
                    query=dict(request.query),
                    exports=download_links(request),
                )
                await session.commit()
                return _file(ExportFormat(fmt), name, table)
    status = 400 if errors else 200
    context = page_context(
        request,
        reports=REPORTS,
        report=name,
        title=title,
        table=table,
        errors={k: gettext(v) for k, v in errors.items()},
        query=dict(request.query),
        exports=download_links(request),
        dimensions=[(d.value, f"by {d.value}") for d in Dimension],
        buckets=[(b.value, f"by {b.value}") for b in Bucket],
    )
    return aiohttp_jinja2.render_template("reports.html", request, context, status=status)


def _file(fmt: ExportFormat, name: str, table: Table) -> web.Response:
    header = [gettext(column) for column, _ in table.columns]
    rows = table.rows + ([table.totals] if table.totals else [])
    return list_file(fmt, f"report-{name}", gettext(table.title), header, rows)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_index)
    app.router.add_get("/reports/{name}", report_page)
