"""Admin pages that set up the funnel: ``/admin/stages`` and ``/admin/refusal-reasons``.

Each page is one table whose every row carries small POST forms; the ``action``
field says what to do, and a refused change is shown above the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import pipeline
from callcenter.funnel import FunnelError
from callcenter.models import User
from web.auth import ADMINS, requires
from web.i18n import translations
from web.json_api import me
from web.pages import _context
from web.state import SERVICES
from web.templating import current_language

StageAction = Callable[[AsyncSession, int, dict[str, str], User], Awaitable[object]]

_STAGE_ACTIONS: dict[str, StageAction] = {
    "rename": lambda s, i, f, u: pipeline.rename_stage(s, i, f.get("name"), u),
    "kind": lambda s, i, f, u: pipeline.set_stage_kind(s, i, f.get("kind"), u),
    "up": lambda s, i, f, u: pipeline.move_stage(s, i, -1, u),
    "down": lambda s, i, f, u: pipeline.move_stage(s, i, 1, u),
    "activate": lambda s, i, f, u: pipeline.set_stage_active(s, i, True, u),
    "deactivate": lambda s, i, f, u: pipeline.set_stage_active(s, i, False, u),
    "delete": lambda s, i, f, u: pipeline.delete_stage(s, i, u),
}
_REASON_ACTIONS: dict[str, StageAction] = {
    "rename": lambda s, i, f, u: pipeline.rename_reason(s, i, f.get("name"), u),
    "activate": lambda s, i, f, u: pipeline.set_reason_active(s, i, True, u),
    "deactivate": lambda s, i, f, u: pipeline.set_reason_active(s, i, False, u),
}


def _gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {key: value[:1000] for key, value in form.items() if isinstance(value, str)}


def _row_id(form: dict[str, str]) -> int:
    raw = form.get("id", "")
    if not raw.isdigit() or len(raw) > 18:
        raise FunnelError("Not a valid choice.")
    return int(raw)


async def _stages_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        stages = await pipeline.stages(session)
        in_use = await pipeline.deals_per_stage(session)
    context = _context(
        request,
        stages=[(stage, pipeline.kind_of(stage).value) for stage in stages],
        in_use=in_use,
        kinds=[kind.value for kind in pipeline.StageKind],
        error=error,
    )
    return aiohttp_jinja2.render_template("admin_stages.html", request, context, status=status)


@requires(*ADMINS)
async def stages_page(request: web.Request) -> web.StreamResponse:
    return await _stages_page(request)


@requires(*ADMINS)
async def stages_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    action = form.get("action", "")
    try:
        async with request.app[SERVICES].db() as session:
            if action == "add":
                await pipeline.add_stage(session, form.get("name"), form.get("kind"), me(request))
            elif action in _STAGE_ACTIONS:
                await _STAGE_ACTIONS[action](session, _row_id(form), form, me(request))
            else:
                raise FunnelError("Not a valid choice.")
            await session.commit()
    except FunnelError as exc:
        return await _stages_page(request, _gettext(exc.message), status=400)
    raise web.HTTPSeeOther("/admin/stages")


async def _reasons_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        reasons = await pipeline.refusal_reasons(session)
    context = _context(request, reasons=reasons, error=error)
    return aiohttp_jinja2.render_template("admin_reasons.html", request, context, status=status)


@requires(*ADMINS)
async def reasons_page(request: web.Request) -> web.StreamResponse:
    return await _reasons_page(request)


@requires(*ADMINS)
async def reasons_submit(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    action = form.get("action", "")
    try:
        async with request.app[SERVICES].db() as session:
            if action == "add":
                await pipeline.add_reason(session, form.get("name"), me(request))
            elif action in _REASON_ACTIONS:
                await _REASON_ACTIONS[action](session, _row_id(form), form, me(request))
            else:
                raise FunnelError("Not a valid choice.")
            await session.commit()
    except FunnelError as exc:
        return await _reasons_page(request, _gettext(exc.message), status=400)
    raise web.HTTPSeeOther("/admin/refusal-reasons")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/stages", stages_page)
    app.router.add_post("/admin/stages", stages_submit)
    app.router.add_get("/admin/refusal-reasons", reasons_page)
    app.router.add_post("/admin/refusal-reasons", reasons_submit)
