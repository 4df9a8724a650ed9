"""``GET /healthz``: is the database reachable, is the AMI link up."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from web.state import SERVICES

DB_CHECK_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    database: dict[str, object]
    try:
        async with asyncio.timeout(DB_CHECK_SECONDS), services.db() as session:
            await session.execute(text("SELECT 1"))
        database = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any failure is "not ok"; the class name says which
        database = {"ok": False, "error": type(exc).__name__}
    ami_state = services.telephony.state
    body = {
        "status": "ok" if database["ok"] and ami_state == "connected" else "degraded",
        "database": database,
        "ami": {"state": ami_state, "connected": ami_state == "connected"},
    }
    # 503 only when the database is gone: without AMI the CRM still works
    return web.json_response(body, status=200 if database["ok"] else 503)
