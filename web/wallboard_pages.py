"""The supervisors' wallboard: ``/wallboard`` (``?tv=1`` for a wall screen) and its JSON.

The page draws the first picture from ``/api/v1/wallboard`` and every later one from
the websocket (``wallboard`` messages): the database is never polled for it.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from callcenter.wallboard_feed import WallboardFeed
from web.auth import LEADERS, requires
from web.json_api import refusal
from web.pages import page_context

WALLBOARD = web.AppKey("wallboard", WallboardFeed)


def _feed(request: web.Request) -> WallboardFeed:
    feed = request.app.get(WALLBOARD)
    if feed is None:
        raise refusal(web.HTTPServiceUnavailable, "the wallboard runs with the AMI listener")
    return feed


@requires(*LEADERS)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    _feed(request)
    context = page_context(request, tv=request.query.get("tv") == "1")
    return aiohttp_jinja2.render_template("wallboard.html", request, context)


@requires(*LEADERS)
async def wallboard_api(request: web.Request) -> web.StreamResponse:
    """The wallboard now: calls, waiting callers per queue, today's figures, operators."""
    return web.json_response(_feed(request).picture())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/api/v1/wallboard", wallboard_api)
