"""Cross-site request forgery, generated from the route table: every state-changing route
(POST, PUT, PATCH, DELETE) of ``web.app.create_app`` refuses a request from another site's
page even though the browser sends the victim's live session cookie, and changes nothing.
A route added tomorrow is swept without touching this file.

The routes authenticated by a token in the request (``public_by_token``: web-form leads)
take posts from any site by design; for them the claim is the other half: a session
cookie alone gets nothing done there, so a forged post cannot act in anyone's name.

The policy read in ``web.security.same_origin``: a request with no Origin at all is not
a browser's cross-site post (every current browser sends Origin on a cross-site POST) and
is let through to the session check; older browsers that send neither Origin nor, being
cross-site, the SameSite=Lax cookie are covered by the cookie
(tests/integration/test_session_cookie.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.settings import load_settings
from tests.integration.cti_helpers import make_world
from tests.integration.staff_helpers import ClientFactory, Staff, make_staff, web_client
from tests.integration.test_role_matrix import Route, routes_of
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.auth import current_user
from web.state import WebServices

pytestmark = pytest.mark.db

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
REFUSAL = "cross-origin request refused"
FOREIGN_ORIGINS = (
    "https://evil.example",
    "null",  # a sandboxed frame, a data: or file: page
    "http://{host}",  # this machine on another port is another site
    "http://{host}:{port}.evil.example",
)
# what a forged web-form post would carry; the token is what it lacks
LEAD = {"name": "Подделка", "phone": "+74951234567"}


async def fingerprint(db: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """A digest of every table's whole content: any insert, update or delete shows."""
    async with db() as session:
        tables = await session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        )
        digests = {}
        for table in list(tables):
            # the names come from the catalogue, not from a request
            whole = "string_agg(t::text, '|' ORDER BY t::text)"
            query = f"SELECT md5(coalesce({whole}, '')) FROM \"{table}\" t"  # noqa: S608
            digests[table] = await session.scalar(text(query))
    return digests


def a_role_it_is_for(route: Route) -> str:
    allowed = route.allowed_roles
    return "admin" if not allowed or "admin" in allowed else allowed[0]


def state_changing(routes: list[Route]) -> list[Route]:
    return [r for r in routes if r.method in STATE_CHANGING]


async def forgery_problems(
    client: TestClient[Any, Any], staff: Staff, routes: list[Route]
) -> tuple[int, list[str]]:
    """Each cookie-session route asked from each foreign origin with the session of a role
    it is for; what was not refused by the Origin check."""
    wrong: list[str] = []
    checked = 0
    for route in state_changing(routes):
        if getattr(route.handler, "public_by_token", False):
            continue
        for pattern in FOREIGN_ORIGINS:
            origin = pattern.format(host=client.host, port=client.port)
            client.session.cookie_jar.clear()
            headers = {**staff.cookie(a_role_it_is_for(route)), "Origin": origin}
            async with client.request(
                route.method, route.url, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text()
            checked += 1
            if response.status != 403 or REFUSAL not in body:
                wrong.append(f"{route} from {origin}: {response.status} {body[:80]}")
    return checked, wrong


async def token_route_problems(
    client: TestClient[Any, Any], staff: Staff, routes: list[Route]
) -> tuple[int, list[str]]:
    """Each token route posted from another site with an admin's session and no token."""
    wrong: list[str] = []
    token_routes = [
        r for r in state_changing(routes) if getattr(r.handler, "public_by_token", False)
    ]
    for route in token_routes:
        for body in ({"json": LEAD}, {"data": LEAD}):
            client.session.cookie_jar.clear()
            headers = {**staff.cookie("admin"), "Origin": "https://evil.example"}
            async with client.request(
                route.method, route.url, headers=headers, allow_redirects=False, **body
            ) as response:
                answer = await response.text()
            if response.status not in (401, 403):
                wrong.append(f"{route} took a cookie session: {response.status} {answer[:80]}")
    return len(token_routes), wrong


@pytest.fixture
async def sweep(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> tuple[TestClient[Any, Any], Staff, list[Route]]:
    staff = await make_staff(db)
    await make_world(db)  # rows with small ids, so /clients/1/... reach real data
    client = await web_client(db, aiohttp_client)
    return client, staff, list(routes_of(client.server.app))


async def test_no_state_changing_route_acts_on_a_forged_cross_site_request(
    sweep: tuple[TestClient[Any, Any], Staff, list[Route]],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, routes = sweep
    assert len(state_changing(routes)) > 40  # the table was really read
    before = await fingerprint(db)
    checked, wrong = await forgery_problems(client, staff, routes)
    assert checked >= 4 * 40
    assert not wrong, "\n".join(wrong)
    assert await fingerprint(db) == before  # not a row written, not a session touched


async def test_the_origin_check_is_what_refused(
    sweep: tuple[TestClient[Any, Any], Staff, list[Route]],
) -> None:
    """The control: the same routes from this site's own page, anonymously (so nothing
    runs), get past the Origin check to the session check."""
    client, _staff, routes = sweep
    own = {"Origin": f"http://{client.host}:{client.port}"}
    for route in state_changing(routes):
        if getattr(route.handler, "public_by_token", False) or route.allowed_roles is None:
            continue
        client.session.cookie_jar.clear()
        async with client.request(
            route.method, route.url, headers=own, allow_redirects=False
        ) as response:
            assert REFUSAL not in await response.text(), route
            assert response.status in (303, 401), route


async def test_routes_public_by_token_take_no_cookie_session(
    sweep: tuple[TestClient[Any, Any], Staff, list[Route]],
    db: async_sessionmaker[AsyncSession],
) -> None:
    client, staff, routes = sweep
    before = await fingerprint(db)
    checked, wrong = await token_route_problems(client, staff, routes)
    assert checked >= 1  # POST /api/v1/leads
    assert not wrong, "\n".join(wrong)
    assert await fingerprint(db) == before


async def test_the_sweep_catches_a_token_route_that_trusts_the_cookie(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    """The check above on an app with a planted mistake: a route marked public_by_token
    (so the Origin check lets every site through) that acts for the signed-in user."""
    staff = await make_staff(db)

    async def planted(request: web.Request) -> web.StreamResponse:
        user = current_user(request)
        if user is None:
            raise web.HTTPUnauthorized(text="no token")
        return web.json_response({"done_for": user.login}, status=201)

    planted.public_by_token = True  # type: ignore[attr-defined]
    app = create_app(WebServices(load_settings({}), db, unconnected_telephony()))
    app.router.add_post("/api/v1/planted", planted)
    client = await aiohttp_client(app)
    routes = [r for r in routes_of(app) if r.template in ("/api/v1/planted", "/api/v1/leads")]
    checked, wrong = await token_route_problems(client, staff, routes)
    assert checked == 2
    assert len(wrong) == 2  # a JSON post and a form post, both done for the admin
    assert all(w.startswith("POST /api/v1/planted took a cookie session: 201") for w in wrong)
