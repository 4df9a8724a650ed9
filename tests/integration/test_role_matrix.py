"""The role matrix, generated from the route table: no route gives anything to a role that
must not have it, and no route forgets to say who may use it.

Every route of ``web.app.create_app`` is tried by every role and by an anonymous visitor,
so a route another part adds tomorrow is checked without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import WebSession
from callcenter.settings import load_settings
from tests.integration.cti_helpers import make_world
from tests.integration.staff_helpers import ROLES, ClientFactory, Staff, make_staff, web_client
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.state import WebServices

pytestmark = pytest.mark.db

# routes that answer without @requires, and why
OPEN_ROUTES = {
    "/healthz": "monitoring must work without a session",
    "/login": "the sign-in form itself",
    "/logout": "must clear the cookie even when the session has already expired",
    "/ws": "a websocket handshake checks its own session and Origin (tested below)",
    "/api/v1/openapi.json": "the API's description, no data (web/openapi.py)",
}
GUARD_REFUSAL = "this page is not for your role"
KNOWN_ROLES = set(ROLES)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    url: str
    handler: Any

    @property
    def allowed_roles(self) -> tuple[str, ...] | None:
        return getattr(self.handler, "allowed_roles", None)

    @property
    def is_open(self) -> bool:
        return self.template in OPEN_ROUTES or getattr(self.handler, "public_by_token", False)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def routes_of(app: web.Application) -> Iterator[Route]:
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue  # HEAD is the GET handler again
        if isinstance(resource, web.StaticResource):
            continue  # files, no data
        info = resource.get_info()
        template = info.get("formatter") or info.get("path") or resource.canonical
        # real rows have small ids (make_world, make_staff); anything else is a 404
        parts = {name: "1" for name in re.findall(r"\{(\w+)", template)}
        url = str(resource.url_for(**parts))
        yield Route(route.method, template, url, route.handler)


@pytest.fixture
async def matrix(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> tuple[TestClient[Any, Any], Staff, list[Route]]:
    staff = await make_staff(db)
    await make_world(db)
    client = await web_client(db, aiohttp_client)
    return client, staff, list(routes_of(client.server.app))


async def _ask(
    client: TestClient[Any, Any], route: Route, staff: Staff, role: str | None
) -> tuple[int, str, str]:
    client.session.cookie_jar.clear()  # only the session this request names
    async with client.request(
        route.method, route.url, headers=staff.cookie(role), allow_redirects=False
    ) as response:
        body = (await response.read()).decode(errors="replace")  # exports are binary
        return response.status, response.headers.get("Location", ""), body


def forgotten_guards(routes: list[Route]) -> list[str]:
    return [str(r) for r in routes if not r.is_open and r.allowed_roles is None]


async def refusal_problems(
    client: TestClient[Any, Any], staff: Staff, routes: list[Route]
) -> tuple[int, list[str]]:
    """Every guarded route asked by each role it is not for; what was not refused."""
    wrong: list[str] = []
    checked = 0
    for route in routes:
        allowed = route.allowed_roles
        if route.is_open or allowed is None:
            continue
        for role in (None, *ROLES):
            if role is not None and (not allowed or role in allowed):
                continue  # this role may use it
            status, location, body = await _ask(client, route, staff, role)
            checked += 1
            if 200 <= status < 300:
                wrong.append(f"{route} answered {status} to {role or 'anonymous'}: {body[:80]}")
            elif role is None:
                api = route.template.startswith("/api/")
                refused = status in (401, 403) or (
                    not api and status in (302, 303) and location.endswith("/login")
                )
                if not refused:
                    wrong.append(f"{route} gave anonymous {status} {location}")
            elif status != 403:
                wrong.append(f"{route} gave {role} {status}, not 403")
    return checked, wrong


async def test_every_route_says_who_may_use_it(
    matrix: tuple[TestClient[Any, Any], Staff, list[Route]],
) -> None:
    _client, _staff, routes = matrix
    assert len(routes) > 20  # the table was really read
    forgotten = forgotten_guards(routes)
    assert not forgotten, "wrap in @requires(...) from web/auth.py: " + ", ".join(forgotten)
    unknown = [
        f"{r}: {r.allowed_roles}"
        for r in routes
        if r.allowed_roles is not None and not set(r.allowed_roles) <= KNOWN_ROLES
    ]
    assert unknown == []


async def test_no_route_answers_a_role_it_is_not_for(
    matrix: tuple[TestClient[Any, Any], Staff, list[Route]],
) -> None:
    client, staff, routes = matrix
    checked, wrong = await refusal_problems(client, staff, routes)
    assert checked > 50
    assert not wrong, "\n".join(wrong)


async def test_the_matrix_catches_a_forgotten_or_a_leaky_guard(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    """The checks above on an app with two planted mistakes: they must see both."""
    staff = await make_staff(db)

    async def leak(request: web.Request) -> web.StreamResponse:
        return web.json_response({"clients": ["Петров Иван"]})

    async def leaky(request: web.Request) -> web.StreamResponse:
        return await leak(request)

    leaky.allowed_roles = ("admin",)  # type: ignore[attr-defined]  # claims it, never checks
    services = WebServices(load_settings({}), db, unconnected_telephony())
    app = create_app(services)
    app.router.add_get("/api/v1/forgotten", leak)
    app.router.add_get("/api/v1/leaky", leaky)
    client = await aiohttp_client(app)
    routes = [r for r in routes_of(app) if r.template in ("/api/v1/forgotten", "/api/v1/leaky")]
    assert forgotten_guards(routes) == ["GET /api/v1/forgotten"]
    _checked, wrong = await refusal_problems(client, staff, routes)
    assert len(wrong) == 4  # anonymous, operator, supervisor, manager all got the data
    assert all(w.startswith("GET /api/v1/leaky answered 200") for w in wrong)


async def test_roles_a_page_is_for_are_let_through(
    matrix: tuple[TestClient[Any, Any], Staff, list[Route]],
) -> None:
    """The other half of the matrix, for reads only (a read changes nothing): an allowed role
    is never refused by the guard and never crashes the server."""
    client, staff, routes = matrix
    wrong: list[str] = []
    for route in routes:
        allowed = route.allowed_roles
        if route.method != "GET" or route.is_open or allowed is None:
            continue
        for role in allowed or ROLES:
            status, _location, body = await _ask(client, route, staff, role)
            if status >= 500 or (status == 403 and GUARD_REFUSAL in body):
                wrong.append(f"{route} gave {role} {status}")
    assert not wrong, "\n".join(wrong)


async def test_the_admin_pages_are_for_admins_only(
    matrix: tuple[TestClient[Any, Any], Staff, list[Route]],
) -> None:
    _client, _staff, routes = matrix
    admin_routes = [r for r in routes if r.template.startswith("/admin")]
    assert {"/admin", "/admin/users", "/admin/settings", "/admin/audit"} <= {
        r.template for r in admin_routes
    }
    assert {r.allowed_roles for r in admin_routes} == {("admin",)}


# -- the websocket checks its own session and Origin ---------------------------------


async def _handshake(
    client: TestClient[Any, Any], headers: dict[str, str]
) -> int | aiohttp.ClientWebSocketResponse:
    client.session.cookie_jar.clear()
    try:
        return await client.ws_connect("/ws", headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def test_websocket_needs_a_live_session_and_this_origin(
    matrix: tuple[TestClient[Any, Any], Staff, list[Route]],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, _routes = matrix
    origin = f"http://{client.host}:{client.port}"
    assert await _handshake(client, {"Origin": origin}) == 401
    assert await _handshake(client, {"Cookie": "cc_session=made-up", "Origin": origin}) == 401
    foreign = {**staff.cookie("operator"), "Origin": "https://evil.example"}
    assert await _handshake(client, foreign) == 403

    ws = await _handshake(client, {**staff.cookie("operator"), "Origin": origin})
    assert not isinstance(ws, int)
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.close()

    async with db() as session:
        await session.execute(
            update(WebSession)
            .where(WebSession.user_id == staff.users["operator"].id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    expired = {**staff.cookie("operator"), "Origin": origin}
    assert await _handshake(client, expired) == 401
