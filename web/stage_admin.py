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
from callcenter.form_errors import whole_number
from callcenter.funnel import FunnelError
from callcenter.models import User
from web.auth import ADMINS, requires
from web.forms import posted
from web.json_api import me
from web.pages import page_context
from web.state import SERVICES
from web.templating import gettext

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


def _row_id(form: dict[str, str]) -> int:
    row_id = whole_number(form.get("id", ""))
    if row_id is None:
        raise FunnelError("Not a valid choice.")
    return row_id


async def _stages_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        stages = await pipeline.stages(session)
        in_use = await pipeline.deals_per_stage(session)
    context = page_context(
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


async def _apply(
    request: web.Request,
    actions: dict[str, StageAction],
    add: Callable[[AsyncSession, dict[str, str], User], Awaitable[object]],
) -> str | None:
    """Does what the posted ``action`` asks; the refusal's message, translated, if refused."""
    form = await posted(request)
    action = form.get("action", "")
    try:
        async with request.app[SERVICES].db() as session:
            if action == "add":
                await add(session, form, me(request))
            elif action in actions:
                await actions[action](session, _row_id(form), form, me(request))
            else:
                raise FunnelError("Not a valid choice.")
            await session.commit()
    except FunnelError as exc:
        return gettext(exc.message)
    return None


@requires(*ADMINS)
async def stages_submit(request: web.Request) -> web.StreamResponse:
    error = await _apply(
        request,
        _STAGE_ACTIONS,
        lambda s, f, u: pipeline.add_stage(s, f.get("name"), f.get("kind"), u),
    )
    if error is not None:
        return await _stages_page(request, error, status=400)
    raise web.HTTPSeeOther("/admin/stages")


async def _reasons_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        reasons = await pipeline.refusal_reasons(session)
    context = page_context(request, reasons=reasons, error=error)
    return aiohttp_jinja2.render_template("admin_reasons.html", request, context, status=status)


@requires(*ADMINS)
async def reasons_page(request: web.Request) -> web.StreamResponse:
    return await _reasons_page(request)


@requires(*ADMINS)
async def reasons_submit(request: web.Request) -> web.StreamResponse:
    error = await _apply(
        request, _REASON_ACTIONS, lambda s, f, u: pipeline.add_reason(s, f.get("name"), u)
    )
    if error is not None:
        return await _reasons_page(request, error, status=400)
    raise web.HTTPSeeOther("/admin/refusal-reasons")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/stages", stages_page)
    app.router.add_post("/admin/stages", stages_submit)
    app.router.add_get("/admin/refusal-reasons", reasons_page)
    app.router.add_post("/admin/refusal-reasons", reasons_submit)
