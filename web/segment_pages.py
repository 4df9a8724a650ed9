"""Segments: saved client filters as pages and JSON, their exports and dial lists.

Also the export of a client search (``/clients/export.csv?q=``): the same writer,
fed the clients the search shows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import segments
from callcenter.access import limited_to_own_clients, visible_contacts
from callcenter.client_search import MAX_LIMIT, search_clients
from callcenter.contact_export import DELIMITERS, ExportFormat, export_clients
from callcenter.contact_geography import known_places
from callcenter.models import (
    AdChannel,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    PipelineStage,
    Segment,
    User,
)
from callcenter.segments import FilterError, SegmentFilter
from web.auth import LEADERS, MANAGERS, requires
from web.json_api import error_response, int_param, json_body, me, refusal
from web.list_files import CONTENT_TYPES
from web.pages import page_context
from web.state import SERVICES
from web.templating import gettext, user_zone

CHUNK = 64 * 1024
# what a dial list may be added to: not a campaign that has ended
OPEN_CAMPAIGNS = (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED)
_LIST_FIELDS = ("statuses", "ad_channel_ids", "manager_ids", "deal_stage_ids")
_TEXT_FIELDS = (
    "region",
    "time_zone",
    "tags",
    "tags_match",
    "last_contact_from",
    "last_contact_before",
    "no_contact_days",
)


def _form_filter(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """A posted filter form as the JSON ``SegmentFilter.from_json`` reads."""
    data: dict[str, Any] = {}
    for name in _LIST_FIELDS:
        data[name] = [str(v)[:50] for v in form.getall(name, []) if isinstance(v, str) and v]
    for name in _TEXT_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            data[name] = value.strip()[:1000]
    return data


async def _choices(session: AsyncSession) -> dict[str, Any]:
    """What the filter form offers to pick from."""
    channels = await session.execute(select(AdChannel.id, AdChannel.name).order_by(AdChannel.name))
    managers = await session.execute(
        select(User.id, User.full_name).where(User.is_active.is_(True)).order_by(User.full_name)
    )
    stages = await session.execute(
        select(PipelineStage.id, PipelineStage.name).order_by(
            PipelineStage.position, PipelineStage.id
        )
    )
    regions, zones = await known_places(session)
    return {
        "statuses": [s.value for s in ContactStatus],
        "regions": regions,
        "time_zones": zones,
        "channels": channels.all(),
        "managers": managers.all(),
        "stages": stages.all(),
    }


async def _segment(session: AsyncSession, request: web.Request) -> Segment:
    segment = await session.get(Segment, int_param(request, "id"))
    if segment is None:
        raise web.HTTPNotFound(text="no such segment")
    return segment


def _values(segment_filter: dict[str, Any]) -> dict[str, Any]:
    """Form values to show again: lists as lists, everything else as text."""
    values: dict[str, Any] = {name: [] for name in _LIST_FIELDS}
    values.update({name: "" for name in _TEXT_FIELDS})
    values["tags_match"] = "any"
    for name, value in segment_filter.items():
        if name in _LIST_FIELDS and isinstance(value, list):
            values[name] = [str(v) for v in value]
        elif name == "tags" and isinstance(value, list):
            values[name] = ", ".join(str(v) for v in value)
        elif name in _TEXT_FIELDS:
            values[name] = str(value)
    return values


async def _render_form(
    request: web.Request,
    template: str,
    *,
    name: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    **extra: Any,
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        choices = await _choices(session)
    context = page_context(
        request,
        name=name,
        values=values,
        errors={k: gettext(v) for k, v in errors.items()},
        choices=choices,
        **extra,
    )
    return aiohttp_jinja2.render_template(template, request, context, status=status)


# -- pages ----------------------------------------------------------------------------


@requires(*LEADERS)
async def segments_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        saved = await segments.all_segments(session)
    return await _render_form(
        request, "segments.html", name="", values=_values({}), errors={}, saved=saved
    )


@requires(*LEADERS)
async def new_segment_form(request: web.Request) -> web.StreamResponse:
    return await _render_form(request, "segment_new.html", name="", values=_values({}), errors={})


async def _save(request: web.Request, existing_id: int | None) -> web.StreamResponse:
    form = await request.post()
    raw_name = form.get("name")
    name = raw_name[:1000] if isinstance(raw_name, str) else ""
    data = _form_filter(form)
    async with request.app[SERVICES].db() as session:
        existing = await _segment(session, request) if existing_id is not None else None
        try:
            segment_filter = SegmentFilter.from_json(data)
            saved = await segments.save_segment(
                session, me(request), name, segment_filter, existing
            )
        except FilterError as exc:
            await session.rollback()
            if existing is not None:
                return await _segment_view(request, status=400, edit=(name, data, exc.fields))
            return await _render_form(
                request,
                "segment_new.html",
                name=name,
                values=_values(data),
                errors=exc.fields,
                status=400,
            )
        await session.commit()
        raise web.HTTPSeeOther(f"/segments/{saved.id}")


@requires(*LEADERS)
async def create_segment(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@requires(*LEADERS)
async def edit_segment(request: web.Request) -> web.StreamResponse:
    return await _save(request, int_param(request, "id"))


@requires(*LEADERS)
async def delete_segment(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        await segments.delete_segment(session, await _segment(session, request))
        await session.commit()
    raise web.HTTPSeeOther("/segments")


def _outcome(request: web.Request) -> dict[str, int] | None:
    """The counts of a dial list just made, carried by the redirect's query string."""
    keys = ("added", "already_in", "do_not_call", "no_phone")
    if not all(request.query.get(k, "").isdigit() for k in keys):
        return None
    return {k: int(request.query[k][:12]) for k in keys}


async def _segment_view(
    request: web.Request,
    *,
    status: int = 200,
    edit: tuple[str, dict[str, Any], dict[str, str]] | None = None,
) -> web.StreamResponse:
    user = me(request)
    after = request.query.get("after", "0")
    after_id = int(after) if after.isdigit() and len(after) < 19 else 0
    async with request.app[SERVICES].db() as session:
        segment = await _segment(session, request)
        try:
            segment_filter = segments.stored_filter(segment)
        except FilterError:
            segment_filter = SegmentFilter()  # stored by an older version: shown as empty
        count = await segments.count_clients(session, user, segment_filter, user_zone())
        page = await segments.list_clients(
            session, user, segment_filter, after_id=after_id, zone=user_zone()
        )
        campaigns = (
            await session.execute(
                select(Campaign.id, Campaign.name)
                .where(Campaign.status.in_([s.value for s in OPEN_CAMPAIGNS]))
                .order_by(Campaign.name)
            )
        ).all()
        choices = await _choices(session)
    name, values, errors = edit or (segment.name, segment.filters, {})
    context = page_context(
        request,
        segment=segment,
        count=count,
        clients=page,
        next_after=page[-1].contact_id if len(page) == segments.PAGE_SIZE else None,
        campaigns=campaigns,
        outcome=_outcome(request),
        name=name,
        values=_values(values),
        errors={k: gettext(v) for k, v in errors.items()},
        choices=choices,
        may_dial=user.role in MANAGERS,
    )
    return aiohttp_jinja2.render_template("segment.html", request, context, status=status)


@requires(*LEADERS)
async def segment_page(request: web.Request) -> web.StreamResponse:
    return await _segment_view(request)


@requires(*MANAGERS)
async def make_dial_list(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    raw = form.get("campaign_id")
    campaign_id = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else 0
    async with request.app[SERVICES].db() as session:
        segment = await _segment(session, request)
        campaign = await session.get(Campaign, campaign_id) if campaign_id else None
        if campaign is None or campaign.status not in OPEN_CAMPAIGNS:
            raise web.HTTPBadRequest(text="choose an open campaign")
        result = await segments.add_to_campaign(
            session, me(request), segments.stored_filter(segment), campaign, user_zone()
        )
        await session.commit()
    query = "&".join(f"{k}={v}" for k, v in result.as_json().items())
    raise web.HTTPSeeOther(f"/segments/{segment.id}?{query}")


# -- exports --------------------------------------------------------------------------

Where = Callable[[AsyncSession, User], Awaitable[ColumnElement[bool]]]


async def _send_export(
    request: web.Request, fmt: ExportFormat, where: Where, described_as: dict[str, Any], stem: str
) -> web.StreamResponse:
    """Write the export to a temporary file, audit it, send it, delete it."""
    user = me(request)
    delimiter = "," if request.query.get("delimiter") == "comma" else DELIMITERS[0]
    with tempfile.TemporaryDirectory(prefix="cc-export-") as folder:
        path = Path(folder) / f"{stem}.{fmt.value}"
        async with request.app[SERVICES].db() as session:
            await export_clients(
                session,
                user,
                await where(session, user),
                path,
                fmt,
                described_as=described_as,
                zone=user_zone(),
                label=gettext,
                delimiter=delimiter,
                ip=request.remote,
            )
            await session.commit()
        content_type = CONTENT_TYPES[fmt]
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{path.name}"',
            }
        )
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                await response.write(chunk)
        await response.write_eof()
    return response


async def _segment_export(request: web.Request, fmt: ExportFormat) -> web.StreamResponse:
    segment_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        segment = await _segment(session, request)
        segment_filter = segments.stored_filter(segment)

    async def where(session: AsyncSession, user: User) -> ColumnElement[bool]:
        clause = segments.filter_clause(segment_filter, user_zone())
        return clause & await visible_contacts(session, user)

    described = {"segment_id": segment_id, "filters": segment_filter.as_json()}
    return await _send_export(request, fmt, where, described, f"segment-{segment_id}")


@requires(*LEADERS)
async def segment_export_csv(request: web.Request) -> web.StreamResponse:
    return await _segment_export(request, ExportFormat.CSV)


@requires(*LEADERS)
async def segment_export_xlsx(request: web.Request) -> web.StreamResponse:
    return await _segment_export(request, ExportFormat.XLSX)


async def _search_export(request: web.Request, fmt: ExportFormat) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:200]
    region = request.app[SERVICES].settings.default_region

    async def where(session: AsyncSession, user: User) -> ColumnElement[bool]:
        own = user.id if await limited_to_own_clients(session, user) else None
        hits = await search_clients(
            session, query, region=region, limit=MAX_LIMIT, only_manager_id=own
        )
        ids = [hit.contact_id for hit in hits]
        return Contact.id.in_(ids) & await visible_contacts(session, user)

    return await _send_export(request, fmt, where, {"search": query}, "clients")


@requires(*LEADERS)
async def clients_export_csv(request: web.Request) -> web.StreamResponse:
    return await _search_export(request, ExportFormat.CSV)


@requires(*LEADERS)
async def clients_export_xlsx(request: web.Request) -> web.StreamResponse:
    return await _search_export(request, ExportFormat.XLSX)


# -- JSON API -------------------------------------------------------------------------


def _segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "filters": segment.filters,
        "owner_id": segment.owner_id,
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }


@requires(*LEADERS)
async def segments_api(request: web.Request) -> web.StreamResponse:
    """List the saved segments."""
    async with request.app[SERVICES].db() as session:
        saved = await segments.all_segments(session)
    return web.json_response({"segments": [_segment_json(s) for s in saved]})


@requires(*LEADERS)
async def create_segment_api(request: web.Request) -> web.StreamResponse:
    """Save a new segment: a name and its filters."""
    body = await json_body(request)
    if not isinstance(body, dict):
        return error_response(400, "send an object", body="expected an object")
    async with request.app[SERVICES].db() as session:
        try:
            segment_filter = SegmentFilter.from_json(body.get("filters", {}))
            saved = await segments.save_segment(
                session, me(request), body.get("name"), segment_filter
            )
        except FilterError as exc:
            return error_response(400, "the segment cannot be saved", **exc.fields)
        await session.commit()
        return web.json_response(_segment_json(saved), status=201)


@requires(*LEADERS)
async def segment_clients_api(request: web.Request) -> web.StreamResponse:
    """One page of a segment's clients, in id order: pass next_after as after."""
    user = me(request)
    after = request.query.get("after", "0")
    limit = request.query.get("limit", str(segments.PAGE_SIZE))
    if not after.isdigit() or len(after) > 18 or not limit.isdigit() or len(limit) > 6:
        raise refusal(web.HTTPBadRequest, "bad paging", after="a client id", limit="a number")
    async with request.app[SERVICES].db() as session:
        segment = await _segment(session, request)
        segment_filter = segments.stored_filter(segment)
        count = await segments.count_clients(session, user, segment_filter, user_zone())
        page = await segments.list_clients(
            session, user, segment_filter, after_id=int(after), limit=int(limit), zone=user_zone()
        )
    wanted = max(1, min(int(limit), segments.MAX_PAGE))
    return web.json_response(
        {
            "segment_id": segment.id,
            "count": count,
            "clients": [client.as_json() for client in page],
            "next_after": page[-1].contact_id if len(page) == wanted else None,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/segments", segments_page)
    app.router.add_get("/segments/new", new_segment_form)
    app.router.add_post("/segments/new", create_segment)
    app.router.add_get(r"/segments/{id:\d+}", segment_page)
    app.router.add_post(r"/segments/{id:\d+}", edit_segment)
    app.router.add_post(r"/segments/{id:\d+}/delete", delete_segment)
    app.router.add_get(r"/segments/{id:\d+}/export.csv", segment_export_csv)
    app.router.add_get(r"/segments/{id:\d+}/export.xlsx", segment_export_xlsx)
    app.router.add_post(r"/segments/{id:\d+}/dial-list", make_dial_list)
    app.router.add_get("/clients/export.csv", clients_export_csv)
    app.router.add_get("/clients/export.xlsx", clients_export_xlsx)
    app.router.add_get("/api/v1/segments", segments_api)
    app.router.add_post("/api/v1/segments", create_segment_api)
    app.router.add_get(r"/api/v1/segments/{id:\d+}/clients", segment_clients_api)
