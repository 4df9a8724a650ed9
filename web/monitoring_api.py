"""``POST /api/v1/operators/{id}/spy``: a supervisor listens to, whispers to or barges
into a call of one of their team's operators (``callcenter.live_monitoring``)."""

from __future__ import annotations

from aiohttp import web

from callcenter.live_monitoring import SpyRefused, join_call
from callcenter.telephony import SPY_MODES
from web.auth import requires
from web.client_access import client_ip
from web.json_api import TELEPHONY_DOWN, error_response, int_param, json_body, me, telephony_errors
from web.openapi import documented
from web.state import SERVICES
from web.templating import gettext

_SPY_BODY = {
    "type": "object",
    "required": ["mode"],
    "properties": {"mode": {"type": "string", "enum": list(SPY_MODES)}},
}


@requires("supervisor")
@documented(body=_SPY_BODY, status=202)
async def spy(request: web.Request) -> web.StreamResponse:
    """Ring my phone into the operator's call: listen, whisper or barge."""
    services = request.app[SERVICES]
    body = await json_body(request)
    mode = body.get("mode") if isinstance(body, dict) else None
    if not isinstance(mode, str):
        return error_response(400, "invalid input", mode="listen, whisper or barge")
    if services.telephony.state != "connected":
        return error_response(503, TELEPHONY_DOWN)
    async with services.db() as session:
        try:
            with telephony_errors():
                accepted = await join_call(
                    session,
                    services.telephony,
                    me(request),
                    int_param(request, "id"),
                    mode,
                    client_ip(request),
                )
        except SpyRefused as refused:
            # the English text for API clients, the reader's language for the wallboard
            reason = str(refused)
            return web.json_response(
                {"error": reason, "message": gettext(reason)}, status=refused.status
            )
        except ValueError as exc:  # a device the PBX's rules refuse (UnsafeAmiValue)
            return error_response(409, str(exc))
    return web.json_response({"request_id": accepted.request_id, "mode": mode}, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post(r"/api/v1/operators/{id:\d+}/spy", spy)
