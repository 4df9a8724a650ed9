"""The funnel's JSON API: deals, moving them between stages, the stages and reasons."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter import pipeline
from callcenter.deal_board import deal_detail, list_deals
from callcenter.form_errors import whole_number
from callcenter.funnel import FunnelError, create_deal, move_and_announce, read_new_deal
from callcenter.funnel import read_stage_move as read_move
from callcenter.models import PipelineStage, RefusalReason
from web.auth import requires
from web.json_api import error_response, int_param, json_body, me, refusal
from web.openapi import documented
from web.state import HUB, SERVICES

_ID: dict[str, Any] = {"type": "integer", "minimum": 1}
_DEAL_QUERY: dict[str, dict[str, Any]] = {
    "stage": _ID,
    "owner": {"oneOf": [_ID, {"type": "string", "enum": ["me"]}]},
    "contact": _ID,
}
_NEW_DEAL = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "contact_id": _ID,
        "company_id": _ID,
        "amount": {"type": ["string", "number"], "description": "at most 2 decimals"},
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "default": "RUB"},
        "owner_id": _ID,
        "stage_id": _ID,
    },
}
_MOVE = {
    "type": "object",
    "required": ["stage_id"],
    "properties": {"stage_id": _ID, "refusal_reason_id": _ID},
}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise refusal(web.HTTPBadRequest, "expected a JSON object", body="expected an object")
    return body


def _invalid(exc: FunnelError) -> web.Response:
    return error_response(400, exc.message, **exc.fields)


def _filter(request: web.Request, name: str, fields: dict[str, str]) -> int | None:
    raw = request.query.get(name, "")
    if raw == "":
        return None
    if name == "owner" and raw == "me":
        return me(request).id
    number = whole_number(raw)
    if number is None:
        fields[name] = "expected a numeric id" + (" or 'me'" if name == "owner" else "")
    return number


def stage_json(stage: PipelineStage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "position": stage.position,
        "kind": pipeline.kind_of(stage).value,
        "is_active": stage.is_active,
    }


def reason_json(reason: RefusalReason) -> dict[str, Any]:
    return {"id": reason.id, "name": reason.name, "is_active": reason.is_active}


@requires()
@documented(query=_DEAL_QUERY)
async def deals_list(request: web.Request) -> web.StreamResponse:
    """Deals the caller may see, newest change first; filter by stage, owner, contact."""
    fields: dict[str, str] = {}
    stage_id = _filter(request, "stage", fields)
    owner_id = _filter(request, "owner", fields)
    contact_id = _filter(request, "contact", fields)
    if fields:
        return error_response(400, "invalid filter", **fields)
    async with request.app[SERVICES].db() as session:
        deals = await list_deals(
            session, me(request), stage_id=stage_id, owner_id=owner_id, contact_id=contact_id
        )
    return web.json_response({"deals": [deal.as_json() for deal in deals]})


@requires()
@documented(body=_NEW_DEAL, status=201)
async def deal_create(request: web.Request) -> web.StreamResponse:
    """Open a deal for a client or a company; the owner is the caller unless given."""
    user = me(request)
    body = _object(await json_body(request))
    try:
        new = read_new_deal(body)
        async with request.app[SERVICES].db() as session:
            deal = await create_deal(session, new, user)
            await session.commit()
            detail = await deal_detail(session, user, deal.id)
    except FunnelError as exc:
        return _invalid(exc)
    assert detail is not None
    return web.json_response(detail.as_json(), status=201)


@requires()
async def deal_get(request: web.Request) -> web.StreamResponse:
    """One deal with its stage history (who moved it, when, from where to where)."""
    async with request.app[SERVICES].db() as session:
        detail = await deal_detail(session, me(request), int_param(request, "deal_id"))
    if detail is None:
        return error_response(404, "no such deal")
    return web.json_response(detail.as_json())


@requires()
@documented(body=_MOVE)
async def deal_move(request: web.Request) -> web.StreamResponse:
    """Move a deal to a stage; a lost stage needs refusal_reason_id."""
    user = me(request)
    deal_id = int_param(request, "deal_id")
    body = _object(await json_body(request))
    async with request.app[SERVICES].db() as session:
        if await deal_detail(session, user, deal_id) is None:
            return error_response(404, "no such deal")
        try:
            result = await move_and_announce(
                session, request.app[HUB], deal_id, read_move(body), user
            )
        except FunnelError as exc:
            await session.rollback()
            return _invalid(exc)
        detail = await deal_detail(session, user, deal_id)
    assert detail is not None
    return web.json_response(
        {
            "deal": detail.as_json(),
            "moved": result.moved,
            "follow_up_task_id": result.follow_up.id if result.follow_up else None,
        }
    )


@requires()
async def stages_list(request: web.Request) -> web.StreamResponse:
    """The funnel's stages in order, with their kind (open, won, lost)."""
    async with request.app[SERVICES].db() as session:
        stages = await pipeline.stages(session)
    return web.json_response({"stages": [stage_json(stage) for stage in stages]})


@requires()
async def reasons_list(request: web.Request) -> web.StreamResponse:
    """The refusal reasons a lost deal may be given."""
    async with request.app[SERVICES].db() as session:
        reasons = await pipeline.refusal_reasons(session)
    return web.json_response({"refusal_reasons": [reason_json(reason) for reason in reasons]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/deals", deals_list)
    app.router.add_post("/api/v1/deals", deal_create)
    app.router.add_get(r"/api/v1/deals/{deal_id:\d+}", deal_get)
    app.router.add_post(r"/api/v1/deals/{deal_id:\d+}/stage", deal_move)
    app.router.add_get("/api/v1/stages", stages_list)
    app.router.add_get("/api/v1/refusal-reasons", reasons_list)
