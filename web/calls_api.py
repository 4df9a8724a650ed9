"""The call journal and the campaigns, read through ``/api/v1``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.call_journal import call_by_id, find_calls, parse_call_filter
from callcenter.campaign_list import campaign_by_id, list_campaigns
from callcenter.form_errors import FormInvalid
from web.auth import ANYONE_SIGNED_IN, LEADERS, requires
from web.json_api import error_response, int_param, me
from web.openapi import documented
from web.state import SERVICES

_CALL_QUERY: dict[str, dict[str, Any]] = {
    "since": {"type": "string", "format": "date-time"},
    "until": {"type": "string", "format": "date-time"},
    "number": {"type": "string"},
    "contact_id": {"type": "integer", "minimum": 1},
    "operator_id": {"type": "integer", "minimum": 1},
    "direction": {"type": "string"},
    "result": {"type": "string"},
    "before_id": {"type": "integer", "minimum": 1},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
}


@documented(query=_CALL_QUERY)
@requires(*ANYONE_SIGNED_IN)
async def calls_list(request: web.Request) -> web.StreamResponse:
    """Logged calls, newest first (an operator sees the calls they answered)."""
    services = request.app[SERVICES]
    try:
        found = parse_call_filter(request.query, services.settings.default_region)
    except FormInvalid as exc:
        return error_response(
            400, "invalid filter", **{k: p.message for k, p in exc.problems.items()}
        )
    async with services.db() as session:
        calls = await find_calls(session, me(request), found)
    return web.json_response({"calls": calls})


@requires(*ANYONE_SIGNED_IN)
async def call_detail(request: web.Request) -> web.StreamResponse:
    """One logged call."""
    async with request.app[SERVICES].db() as session:
        call = await call_by_id(session, me(request), int_param(request, "id"))
    if call is None:
        return error_response(404, "no such call")
    return web.json_response(call)


@requires(*LEADERS)
async def campaigns_list(request: web.Request) -> web.StreamResponse:
    """Campaigns with their leads counted by status."""
    async with request.app[SERVICES].db() as session:
        return web.json_response({"campaigns": await list_campaigns(session)})


@requires(*LEADERS)
async def campaign_detail(request: web.Request) -> web.StreamResponse:
    """One campaign with its leads counted by status."""
    async with request.app[SERVICES].db() as session:
        campaign = await campaign_by_id(session, int_param(request, "id"))
    if campaign is None:
        return error_response(404, "no such campaign")
    return web.json_response(campaign)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/calls", calls_list)
    app.router.add_get("/api/v1/calls/{id}", call_detail)
    app.router.add_get("/api/v1/campaigns", campaigns_list)
    app.router.add_get("/api/v1/campaigns/{id}", campaign_detail)
