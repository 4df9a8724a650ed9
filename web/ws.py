"""``GET /ws``: the live channel of a signed-in user (session cookie or API token)."""

from __future__ import annotations

from aiohttp import web

from callcenter import auth
from web.auth import SESSION_COOKIE, SESSION_ENDS, current_user
from web.security import same_origin
from web.state import HUB


async def websocket(request: web.Request) -> web.StreamResponse:
    # browsers send Origin on websocket handshakes; another site's page must not connect
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin websocket refused")
    user = current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(text="sign in first")
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        # an API token's channel lives until the token is revoked
        key = auth.session_key(bearer.removeprefix("Bearer ").strip())
        return await request.app[HUB].serve(
            request, user.id, user.role, user.interface, session_key=key
        )
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        raise web.HTTPUnauthorized(text="sign in first")
    return await request.app[HUB].serve(
        request,
        user.id,
        user.role,
        user.interface,
        session_key=auth.session_key(token),
        ends_at=request.get(SESSION_ENDS),  # the middleware read it with the user
    )
