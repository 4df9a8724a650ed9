"""JSON endpoints the operator console calls: wrap-up, click-to-dial, recent and live calls."""

from __future__ import annotations

import json

from aiohttp import web

from callcenter.agent_state import AgentStateError, parse_state_change, state_payload
from callcenter.call_history import recent_calls
from callcenter.clients import ClientError, parse_quick_client, quick_add_client
from callcenter.lookup import client_card
from callcenter.phones import to_e164
from callcenter.telephony import OriginateRequest
from callcenter.wrapup import CallNotLogged, WrapUpError, parse_wrapup, save_wrapup
from web.auth import requires
from web.json_api import (
    TELEPHONY_DOWN,
    error_response,
    invalid_input,
    json_body,
    me,
    refusal,
    telephony_errors,
)
from web.openapi import documented
from web.state import HUB, SERVICES


def _own_phone(request: web.Request) -> str:
    """The endpoint of the operator's own phone (PJSIP/op101 -> op101), if telephony is up."""
    user = me(request)
    if not user.interface:
        raise refusal(web.HTTPConflict, "you have no phone: ask an admin to set your device")
    if request.app[SERVICES].telephony.state != "connected":
        raise refusal(web.HTTPServiceUnavailable, TELEPHONY_DOWN)
    return user.interface.split("/", 1)[1]


@documented(
    body={
        "type": "object",
        "properties": {
            "disposition": {"type": "string"},
            "note": {"type": "string"},
            "next_step": {"type": "string"},
            "callback_at": {"type": "string", "format": "date-time"},
        },
    }
)
@requires()
async def wrap_up_call(request: web.Request) -> web.StreamResponse:
    """Save the after-call form: disposition, note, next step, callback time."""
    body = await json_body(request)
    try:
        wrapup = parse_wrapup(body)
    except WrapUpError as exc:
        return invalid_input(exc, "invalid wrap-up")
    async with request.app[SERVICES].db() as session:
        try:
            call = await save_wrapup(session, me(request), request.match_info["linkedid"], wrapup)
        except CallNotLogged:
            return error_response(409, "the call is not in the log yet; try again in a moment")
        except PermissionError as exc:
            return error_response(403, str(exc))
        except WrapUpError as exc:
            return invalid_input(exc, "invalid wrap-up")
        await session.commit()
    return web.json_response({"call_id": call.id, "saved": True})


@documented(
    body={"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}}
)
@requires()
async def dial(request: web.Request) -> web.StreamResponse:
    """Click-to-dial: ring the operator's own phone, then call the number."""
    services = request.app[SERVICES]
    user = me(request)
    body = await json_body(request)
    raw = body.get("number") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        return error_response(400, "invalid request", number="required")
    e164 = to_e164(raw, services.settings.default_region)
    if e164 is None:
        return error_response(400, "invalid request", number="not a phone number")
    with telephony_errors():
        accepted = await services.telephony.originate(
            OriginateRequest(
                endpoint=_own_phone(request),
                number=_dialable(e164, services.settings.default_region),
                variables={"CALLCENTER_USER": str(user.id)},
            )
        )
    return web.json_response({"request_id": accepted.request_id, "number": e164}, status=202)


def _dialable(e164: str, region: str) -> str:
    # what the dial plan expects: national format with a trunk prefix, as people dial
    if region == "RU" and e164.startswith("+7"):
        return "8" + e164[2:]
    return e164.lstrip("+")


@requires()
async def my_calls(request: web.Request) -> web.StreamResponse:
    """The signed-in operator's recent calls."""
    async with request.app[SERVICES].db() as session:
        calls = await recent_calls(session, me(request).id)
    return web.json_response({"calls": calls})


@documented(
    answer={
        "type": "object",
        "required": ["known", "calls"],
        "properties": {"known": {"type": "boolean"}, "calls": {"type": "array"}},
    }
)
@requires()
async def my_live_calls(request: web.Request) -> web.StreamResponse:
    """The calls ringing or talking on the signed-in user's own phone right now."""
    return web.json_response(request.app[HUB].calls_of(me(request).interface), dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@documented(
    body={
        "type": "object",
        "required": ["state"],
        "properties": {"state": {"enum": ["ready", "paused"]}, "reason": {"type": "string"}},
    }
)
@requires()
async def change_agent_state(request: web.Request) -> web.StreamResponse:
    """Ready / Pause with a reason: QueuePause on the operator's own phone, every queue."""
    services = request.app[SERVICES]
    user = me(request)
    try:
        paused, reason = parse_state_change(await json_body(request))
    except AgentStateError as exc:
        return error_response(400, str(exc))
    with telephony_errors():
        await services.telephony.queue_pause(_own_phone(request), paused, reason)
    assert user.interface is not None  # _own_phone checked it
    payload = state_payload(user.interface, paused, reason, None)
    request.app[HUB].publish([user.id], "agent.state", payload)
    return web.json_response(payload)


@documented(
    body={
        "type": "object",
        "required": ["name", "phone"],
        "properties": {
            "name": {"type": "string"},
            "company": {"type": "string"},
            "phone": {"type": "string"},
        },
    }
)
@requires()
async def add_client(request: web.Request) -> web.StreamResponse:
    """The quick "new client" form of an unknown caller's pop."""
    services = request.app[SERVICES]
    region = services.settings.default_region
    try:
        form = parse_quick_client(await json_body(request), region)
        async with services.db() as session:
            contact = await quick_add_client(session, form, region)
            await session.commit()
            card = await client_card(session, to_e164(form.phone, region) or "")
    except ClientError as exc:
        return invalid_input(exc, "invalid client")
    return web.json_response(
        {"contact_id": contact.id, "client": card.as_json() if card else None}, status=201
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/calls/{linkedid}/wrapup", wrap_up_call)
    app.router.add_post("/api/v1/dial", dial)
    app.router.add_get("/api/v1/me/calls", my_calls)
    app.router.add_get("/api/v1/me/live-calls", my_live_calls)
    app.router.add_post("/api/v1/agent/state", change_agent_state)
    app.router.add_post("/api/v1/clients/quick", add_client)
