"""The supervisors' wallboard: ``/wallboard`` (``?tv=1`` for a wall screen) and its JSON.

The page draws the first picture from ``/api/v1/wallboard`` and every later one from
the websocket (``wallboard`` messages): the database is never polled for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcenter.center_settings import CenterSettings
from callcenter.models import Role, User
from callcenter.wallboard import Wallboard
from callcenter.wallboard_feed import WallboardFeed
from web.auth import LEADERS, requires
from web.json_api import me
from web.pages import page_context
from web.state import SERVICES

WALLBOARD = web.AppKey("wallboard", WallboardFeed)


def _picture(request: web.Request) -> dict[str, Any]:
    feed = request.app.get(WALLBOARD)
    if feed is not None:
        return feed.picture()
    # a web process without the AMI listener (tests, a web-only worker) has seen no calls
    zone = ZoneInfo(request.app[SERVICES].settings.time_zone)
    return Wallboard(zone=zone, sla_seconds=CenterSettings().sla_seconds).snapshot(
        datetime.now(UTC), []
    )


async def _team_members(request: web.Request, supervisor: User) -> list[int]:
    """Whose calls this supervisor may join from the board (``live_monitoring`` checks
    again on every join): the operators of the team they lead."""
    if supervisor.role != Role.SUPERVISOR or supervisor.team_id is None:
        return []
    async with request.app[SERVICES].db() as session:
        rows = await session.scalars(
            select(User.id).where(
                User.team_id == supervisor.team_id,
                User.role == Role.OPERATOR,
                User.is_active.is_(True),
            )
        )
        return list(rows)


@requires(*LEADERS)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    context = page_context(
        request,
        tv=request.query.get("tv") == "1",
        team_members=await _team_members(request, me(request)),
    )
    return aiohttp_jinja2.render_template("wallboard.html", request, context)


@requires(*LEADERS)
async def wallboard_api(request: web.Request) -> web.StreamResponse:
    """The wallboard now: calls, waiting callers per queue, today's figures, operators."""
    return web.json_response(_picture(request))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/api/v1/wallboard", wallboard_api)
