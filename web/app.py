"""The aiohttp application: pages, health check, static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web import (
    admin_pages,
    calls_api,
    campaign_pages,
    channels_admin,
    client_pages,
    clients_pages,
    company_pages,
    console_api,
    deal_pages,
    import_pages,
    leads_api,
    monitoring_api,
    openapi,
    pages,
    preview_pages,
    profile_pages,
    report_pages,
    segment_pages,
    task_pages,
    wallboard_pages,
)
from web.auth import auth_middleware
from web.health import healthz
from web.hub import Hub
from web.security import security_middleware
from web.state import HUB, SERVICES, WebServices
from web.templating import setup_templates
from web.ws import websocket


def create_app(services: WebServices, hub: Hub | None = None) -> web.Application:
    app = web.Application(middlewares=[security_middleware, auth_middleware])
    app[SERVICES] = services
    app[HUB] = hub or Hub()
    setup_templates(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", websocket)
    pages.add_routes(app)
    clients_pages.add_routes(app)
    segment_pages.add_routes(app)  # before any /clients/{id}: it owns /clients/export.*
    import_pages.add_routes(app)
    console_api.add_routes(app)
    admin_pages.add_routes(app)
    profile_pages.add_routes(app)
    openapi.add_routes(app)
    calls_api.add_routes(app)
    leads_api.add_routes(app)
    channels_admin.add_routes(app)
    task_pages.add_routes(app)
    deal_pages.add_routes(app)
    client_pages.add_routes(app)  # the client card, its API and call recordings
    company_pages.add_routes(app)
    monitoring_api.add_routes(app)  # supervisors join their operators' calls
    wallboard_pages.add_routes(app)
    report_pages.add_routes(app)
    campaign_pages.add_routes(app)
    preview_pages.add_routes(app)
    app.router.add_static("/static", Path(__file__).parent / "static")
    return app
