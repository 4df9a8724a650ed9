"""Client search: the ``/clients`` page and its JSON twin ``/api/v1/clients``."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from callcenter.access import limited_to_own_clients
from callcenter.client_search import ClientHit, search_clients
from web.auth import requires
from web.json_api import me
from web.openapi import documented
from web.pages import page_context
from web.state import SERVICES


async def _search(request: web.Request) -> tuple[str, list[ClientHit]]:
    query = request.query.get("q", "").strip()
    services = request.app[SERVICES]
    user = me(request)
    async with services.db() as session:
        # an operator limited to their own clients does not even find the others
        own_only = await limited_to_own_clients(session, user)
        hits = await search_clients(
            session,
            query,
            region=services.settings.default_region,
            only_manager_id=user.id if own_only else None,
        )
    return query, hits


@requires()
async def clients_page(request: web.Request) -> web.StreamResponse:
    query, hits = await _search(request)
    context = page_context(request, query=query, hits=hits)
    return aiohttp_jinja2.render_template("clients.html", request, context)


@requires()
@documented(query={"q": {"type": "string", "maxLength": 200}})
async def clients_api(request: web.Request) -> web.StreamResponse:
    """Clients found by ``q`` (a name, phone, e-mail or company), as the search page lists."""
    query, hits = await _search(request)
    return web.json_response({"query": query, "clients": [hit.as_json() for hit in hits]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients", clients_page)
    app.router.add_get("/api/v1/clients", clients_api)
