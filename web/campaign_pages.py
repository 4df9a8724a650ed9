"""Campaign pages and API for managers: settings, operators, dial lists, controls, progress.

Leaders may look; managers change. Start / pause / resume / stop go to the dialer
(``DialerDesk.control``): a page never writes a campaign's status itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import campaigns, segments
from callcenter.campaign_list import list_campaigns
from callcenter.dialer_desk import CampaignAction, DialerDesk
from callcenter.dispositions import all_dispositions
from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AbandonWindow,
    Campaign,
    CampaignStatus,
    DialMode,
    Disposition,
    Role,
    Segment,
    User,
)
from web.auth import LEADERS, MANAGERS, requires
from web.forms import problem_texts
from web.json_api import error_response, int_param, invalid_input, json_body, me, refusal
from web.openapi import documented
from web.pages import page_context
from web.state import SERVICES
from web.templating import user_zone

# set by the composition root (callcenter.app.runtime); web may not import the dialer
DIALER_DESK = web.AppKey("dialer_desk", DialerDesk)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# the results a campaign's retry delays are typed for, in minutes on the form
RETRY_RESULTS = ("busy", "no_answer", "failed", "machine", "callback")
# a dial list may be added to a campaign that has not ended
OPEN_CAMPAIGNS = (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED)
_SETTING_KEYS = (
    "name",
    "mode",
    "caller_id",
    "script",
    "max_attempts",
    "target_abandon_percent",
    "abandon_window",
    "lines_per_operator",
    "max_lines",
)


def desk(request: web.Request) -> DialerDesk:
    found = request.app.get(DIALER_DESK)
    if found is None:
        raise refusal(web.HTTPServiceUnavailable, "the dialer does not run in this process")
    return found


async def _campaign(session: AsyncSession, request: web.Request) -> Campaign:
    campaign = await session.get(Campaign, int_param(request, "id"))
    if campaign is None:
        raise refusal(web.HTTPNotFound, "no such campaign")
    return campaign


# -- the HTML form as the settings mapping -----------------------------------------------


def settings_from_form(form: MultiDictProxy[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted form in the API's shape, and the problems only the form can have."""
    raw: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key in _SETTING_KEYS:
        value = form.get(key)
        raw[key] = value[:30_000] if isinstance(value, str) else ""
    raw["amd_enabled"] = form.get("amd_enabled") == "on"
    raw["is_advertising"] = form.get("is_advertising") == "on"
    raw["disposition_codes"] = [str(v)[:63] for v in form.getall("disposition_codes", [])]
    raw["operator_ids"] = [str(v)[:18] for v in form.getall("operator_ids", [])]
    delays: dict[str, int] = {}
    for result in RETRY_RESULTS:
        minutes = str(form.get(f"retry_{result}", "")).strip()
        if not minutes:
            continue
        if minutes.isascii() and minutes.isdigit() and len(minutes) < 7:
            delays[result] = int(minutes) * 60
        else:
            problems[f"retry_delays.{result}"] = "Minutes, a whole number."
    raw["retry_delays"] = delays
    windows: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        start = str(form.get(f"window_{day}_from", "")).strip()[:5]
        end = str(form.get(f"window_{day}_to", "")).strip()[:5]
        if start or end:
            windows[day] = [[start, end]]
    raw["calling_windows"] = windows
    return raw, problems


def _form_values(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the form shows them again: minutes, one interval per weekday."""
    values = dict(settings)
    delays = settings.get("retry_delays") or {}
    for result in RETRY_RESULTS:
        seconds = delays.get(result)
        values[f"retry_{result}"] = str(seconds // 60) if isinstance(seconds, int) else ""
    windows = settings.get("calling_windows") or {}
    for day in WEEKDAYS:
        intervals = windows.get(day) or []
        first = intervals[0] if intervals and isinstance(intervals[0], list | tuple) else ["", ""]
        values[f"window_{day}_from"] = str(first[0]) if len(first) > 0 else ""
        values[f"window_{day}_to"] = str(first[1]) if len(first) > 1 else ""
    values["operator_ids"] = [str(i) for i in settings.get("operator_ids") or []]
    values["disposition_codes"] = list(settings.get("disposition_codes") or [])
    return values


DEFAULTS: dict[str, Any] = {
    "name": "",
    "mode": DialMode.PREVIEW.value,
    "caller_id": "",
    "script": "",
    "max_attempts": 3,
    "target_abandon_percent": 3,
    "abandon_window": AbandonWindow.DAY.value,
    "lines_per_operator": 1,
    "max_lines": "",
    "amd_enabled": False,
    "is_advertising": True,
    "retry_delays": {},
    "calling_windows": {},
    "operator_ids": [],
    "disposition_codes": [],
}


async def _form_choices(session: AsyncSession) -> dict[str, Any]:
    operators = await session.execute(
        select(User.id, User.full_name, User.login)
        .where(User.is_active.is_(True), User.role == Role.OPERATOR)
        .order_by(User.full_name, User.id)
    )
    return {
        "modes": [m.value for m in DialMode],
        "abandon_windows": [w.value for w in AbandonWindow],
        "operators": operators.all(),
        "dispositions": await _active_dispositions(session),
        "weekdays": WEEKDAYS,
        "retry_results": RETRY_RESULTS,
    }


async def _active_dispositions(session: AsyncSession) -> list[Disposition]:
    return [d for d in await all_dispositions(session) if d.is_active]


async def _render_form(
    request: web.Request,
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        choices = await _form_choices(session)
    context = page_context(
        request, campaign=campaign, values=_form_values(values), errors=errors, **choices
    )
    return aiohttp_jinja2.render_template("campaign_form.html", request, context, status=status)


async def _save_form(request: web.Request, campaign_id: int | None) -> web.StreamResponse:
    raw, form_problems = settings_from_form(await request.post())
    rules = desk(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request) if campaign_id is not None else None
        errors: dict[str, str] = {}
        try:
            form = await campaigns.read_form(session, raw, rules)
        except FormInvalid as exc:
            errors = problem_texts(exc)
        if form_problems:
            errors.update(problem_texts(FormInvalid(form_problems)))
        if errors:
            await session.rollback()
            return await _render_form(
                request, campaign=campaign, values=raw, errors=errors, status=400
            )
        if campaign is None:
            campaign = await campaigns.create_campaign(session, form, me(request))
        else:
            await campaigns.update_campaign(session, campaign, form, me(request))
        await session.commit()
        raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


# -- pages ------------------------------------------------------------------------------


@requires(*LEADERS)
async def campaigns_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        found = await list_campaigns(session)
    for campaign in found:
        leads = campaign["leads"]
        campaign["leads_left"] = sum(leads.get(s, 0) for s in campaigns.LEADS_LEFT)
    context = page_context(request, campaigns=found, may_edit=me(request).role in MANAGERS)
    return aiohttp_jinja2.render_template("campaigns.html", request, context)


@requires(*MANAGERS)
async def new_campaign_form(request: web.Request) -> web.StreamResponse:
    return await _render_form(request, campaign=None, values=DEFAULTS, errors={})


@requires(*MANAGERS)
async def create_campaign(request: web.Request) -> web.StreamResponse:
    return await _save_form(request, None)


@requires(*MANAGERS)
async def edit_campaign_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request)
        values = await campaigns.campaign_settings(session, campaign)
    return await _render_form(request, campaign=campaign, values=values, errors={})


@requires(*MANAGERS)
async def edit_campaign(request: web.Request) -> web.StreamResponse:
    return await _save_form(request, int_param(request, "id"))


def _outcome(request: web.Request) -> dict[str, int] | None:
    """The counts of a dial list just added, carried by the redirect's query string."""
    keys = ("added", "already_in", "do_not_call", "no_phone")
    if not all(request.query.get(k, "").isdigit() for k in keys):
        return None
    return {k: int(request.query[k][:12]) for k in keys}


@requires(*LEADERS)
async def campaign_page(request: web.Request) -> web.StreamResponse:
    user = me(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request)
        settings = await campaigns.campaign_settings(session, campaign)
        shown = await campaigns.progress(session, campaign, datetime.now(UTC))
        operators = (
            await session.execute(
                select(User.id, User.full_name)
                .where(User.id.in_(settings["operator_ids"]))
                .order_by(User.full_name)
            )
        ).all()
        dispositions = await campaigns.allowed_dispositions(session, campaign)
        saved_segments = (
            await session.execute(select(Segment.id, Segment.name).order_by(Segment.name))
        ).all()
        imports = await campaigns.finished_imports(session)
    context = page_context(
        request,
        campaign=campaign,
        settings=settings,
        progress=shown,
        operators=operators,
        dispositions=dispositions,
        segments=saved_segments,
        imports=imports,
        outcome=_outcome(request),
        problem=request.query.get("problem", "")[:200],
        may_edit=user.role in MANAGERS,
        may_add_leads=campaign.status in OPEN_CAMPAIGNS,
        actions=_actions(campaign),
        weekdays=WEEKDAYS,
    )
    return aiohttp_jinja2.render_template("campaign.html", request, context)


def _actions(campaign: Campaign) -> list[str]:
    """The controls that make sense in the campaign's status."""
    return {
        CampaignStatus.DRAFT: ["start"],
        CampaignStatus.RUNNING: ["pause", "stop"],
        CampaignStatus.PAUSED: ["resume", "stop"],
    }.get(CampaignStatus(campaign.status), [])


async def _control(request: web.Request, action: CampaignAction) -> str | None:
    """Run a control; None when done, else why not (in English, for the API)."""
    dialer = desk(request)
    async with request.app[SERVICES].db() as session:
        await _campaign(session, request)
        try:
            await dialer.control(session, int_param(request, "id"), me(request), action)
        except ValueError as exc:
            await session.rollback()
            return str(exc) or "the campaign cannot do that now"
        await session.commit()
    return None


def _control_page(action: CampaignAction) -> Any:
    @requires(*MANAGERS)
    async def handler(request: web.Request) -> web.StreamResponse:
        problem = await _control(request, action)
        where = f"/campaigns/{int_param(request, 'id')}"
        raise web.HTTPSeeOther(where if problem is None else f"{where}?problem={action.value}")

    handler.__name__ = f"{action.value}_campaign"
    handler.__doc__ = f"{action.value.capitalize()} the campaign."
    return handler


@requires(*MANAGERS)
async def add_dial_list(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    segment_id = str(form.get("segment_id", ""))
    import_id = str(form.get("import_id", ""))
    user = me(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request)
        if campaign.status not in OPEN_CAMPAIGNS:
            raise web.HTTPConflict(text="the campaign has ended")
        if segment_id.isdigit() and len(segment_id) < 19:
            segment = await session.get(Segment, int(segment_id))
            if segment is None:
                raise web.HTTPBadRequest(text="choose a segment")
            result = (
                await segments.add_to_campaign(
                    session, user, segments.stored_filter(segment), campaign, user_zone()
                )
            ).as_json()
        elif import_id.isdigit() and len(import_id) < 19:
            try:
                listed = await campaigns.add_import_to_campaign(
                    session, user, int(import_id), campaign
                )
            except FormInvalid:
                raise web.HTTPBadRequest(text="choose a finished import") from None
            result = listed.as_json()
        else:
            raise web.HTTPBadRequest(text="choose a segment or an import")
        await session.commit()
    query = "&".join(f"{k}={v}" for k, v in result.items())
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}?{query}")


# -- JSON API ---------------------------------------------------------------------------

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "mode": {"enum": [m.value for m in DialMode]},
        "caller_id": {"type": "string", "pattern": campaigns.CALLER_ID.pattern},
        "script": {"type": "string"},
        "disposition_codes": {"type": "array", "items": {"type": "string"}},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": campaigns.MAX_ATTEMPTS},
        "retry_delays": {"type": "object", "additionalProperties": {"type": "integer"}},
        "calling_windows": {"type": "object"},
        "target_abandon_percent": {"type": "number", "minimum": 0.5, "maximum": 10},
        "abandon_window": {"enum": [w.value for w in AbandonWindow]},
        "lines_per_operator": {"type": "number", "minimum": 1, "maximum": 10},
        "max_lines": {"type": ["integer", "null"], "minimum": 1},
        "amd_enabled": {"type": "boolean"},
        "is_advertising": {"type": "boolean"},
        "operator_ids": {"type": "array", "items": {"type": "integer"}},
    },
}


@documented(
    answer={
        "type": "object",
        "properties": {
            "dialled": {"type": "integer"},
            "answered": {"type": "integer"},
            "abandoned": {"type": "integer"},
            "ringing": {"type": "integer"},
            "talking": {"type": "integer"},
            "abandon_percent": {"type": "number"},
            "leads": {"type": "object", "additionalProperties": {"type": "integer"}},
            "leads_left": {"type": "integer"},
            "leads_total": {"type": "integer"},
        },
    }
)
@requires(*LEADERS)
async def progress_api(request: web.Request) -> web.StreamResponse:
    """Live progress of a campaign: dialled, answered, talking, abandoned %, leads left."""
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request)
        shown = await campaigns.progress(session, campaign, datetime.now(UTC))
    return web.json_response({"status": campaign.status, **shown.as_json()})


@documented(body={**SETTINGS_SCHEMA, "required": ["name"]}, answer=SETTINGS_SCHEMA, status=201)
@requires(*MANAGERS)
async def create_campaign_api(request: web.Request) -> web.StreamResponse:
    """Create a campaign (a draft) with its settings and operators."""
    body = await json_body(request)
    if not isinstance(body, dict):
        return error_response(400, "send an object")
    async with request.app[SERVICES].db() as session:
        try:
            form = await campaigns.read_form(session, {**DEFAULTS, **body}, desk(request))
        except FormInvalid as exc:
            return invalid_input(exc, "the campaign cannot be saved")
        campaign = await campaigns.create_campaign(session, form, me(request))
        await session.commit()
        settings = await campaigns.campaign_settings(session, campaign)
    return web.json_response(settings, status=201)


@documented(body=SETTINGS_SCHEMA, answer=SETTINGS_SCHEMA)
@requires(*MANAGERS)
async def update_campaign_api(request: web.Request) -> web.StreamResponse:
    """Change some of a campaign's settings; the ones not sent stay as they are."""
    body = await json_body(request)
    if not isinstance(body, dict):
        return error_response(400, "send an object")
    async with request.app[SERVICES].db() as session:
        campaign = await _campaign(session, request)
        current = await campaigns.campaign_settings(session, campaign)
        try:
            form = await campaigns.read_form(session, {**current, **body}, desk(request))
        except FormInvalid as exc:
            return invalid_input(exc, "the campaign cannot be saved")
        await campaigns.update_campaign(session, campaign, form, me(request))
        await session.commit()
        settings = await campaigns.campaign_settings(session, campaign)
    return web.json_response(settings)


def _control_api(action: CampaignAction) -> Any:
    @documented(answer={"type": "object", "properties": {"status": {"type": "string"}}})
    @requires(*MANAGERS)
    async def handler(request: web.Request) -> web.StreamResponse:
        problem = await _control(request, action)
        if problem is not None:
            return error_response(409, problem)
        async with request.app[SERVICES].db() as session:
            campaign = await _campaign(session, request)
        return web.json_response({"id": campaign.id, "status": campaign.status})

    handler.__name__ = f"{action.value}_campaign_api"
    handler.__doc__ = f"{action.value.capitalize()} the campaign (the dialer acts at once)."
    return handler


def add_routes(app: web.Application) -> None:
    app.router.add_get("/campaigns", campaigns_page)
    app.router.add_get("/campaigns/new", new_campaign_form)
    app.router.add_post("/campaigns/new", create_campaign)
    app.router.add_get(r"/campaigns/{id:\d+}", campaign_page)
    app.router.add_get(r"/campaigns/{id:\d+}/edit", edit_campaign_form)
    app.router.add_post(r"/campaigns/{id:\d+}/edit", edit_campaign)
    app.router.add_post(r"/campaigns/{id:\d+}/dial-list", add_dial_list)
    app.router.add_get(r"/api/v1/campaigns/{id:\d+}/progress", progress_api)
    app.router.add_post("/api/v1/campaigns", create_campaign_api)
    app.router.add_patch(r"/api/v1/campaigns/{id:\d+}", update_campaign_api)
    for action in CampaignAction:
        app.router.add_post(rf"/campaigns/{{id:\d+}}/{action.value}", _control_page(action))
        app.router.add_post(rf"/api/v1/campaigns/{{id:\d+}}/{action.value}", _control_api(action))
