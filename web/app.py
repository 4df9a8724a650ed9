"""The aiohttp application: pages, health check, static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web import pages
from web.auth import auth_middleware
from web.health import healthz
from web.security import security_middleware
from web.state import SERVICES, WebServices
from web.templating import setup_templates


def create_app(services: WebServices) -> web.Application:
    app = web.Application(middlewares=[security_middleware, auth_middleware])
    app[SERVICES] = services
    setup_templates(app)
    app.router.add_get("/healthz", healthz)
    pages.add_routes(app)
    app.router.add_static("/static", Path(__file__).parent / "static")
    return app
