"""Admin pages: the index, users and teams, the PBX's queues, center settings, audit log.

Call results and custom fields live in ``web.admin_catalogues``. Every change an admin
makes is written to the audit log in the same transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, center_settings, staff
from callcenter.audit_view import audit_page, details_text, read_filter
from callcenter.form_errors import FormInvalid
from callcenter.models import Language, Role, Team, User
from callcenter.queue_view import queue_rows
from callcenter.settings_form import save_settings_form
from callcenter.telephony import TelephonyError
from callcenter.time_zones import choices as zone_choices
from web import admin_catalogues
from web.auth import ADMINS, requires
from web.forms import posted, problem_texts, render_form_page
from web.json_api import int_param, me
from web.state import HUB, SERVICES
from web.templating import user_zone

QUEUE_TIMEOUT = 2.0
# never put back into a page: a password typed into a refused form is typed again
_SECRET_FIELDS = ("password",)


def _kept(raw: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k not in _SECRET_FIELDS}


def _form_choices(current_zone: str | None = None) -> dict[str, Any]:
    return {
        "roles": [r.value for r in Role],
        "languages": [lang.value for lang in Language],
        "time_zones": zone_choices(current_zone),
    }


@requires(*ADMINS)
async def admin_index(request: web.Request) -> web.StreamResponse:
    return render_form_page(request, "admin/index.html")


# -- users and teams ------------------------------------------------------------------


async def _users_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    team_errors: Mapping[str, Mapping[str, str]] | None = None,
    team_values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        rows = await staff.staff_list(session)
        teams = await staff.teams(session)
    defaults = {"role": "operator", "language": "ru", "time_zone": "Europe/Moscow"}
    return render_form_page(
        request,
        "admin/users.html",
        status,
        rows=rows,
        teams=teams,
        values={**defaults, **(values or {})},
        errors=errors or {},
        team_errors=team_errors or {},
        team_values=team_values or {},
        **_form_choices(),
    )


@requires(*ADMINS)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@requires(*ADMINS)
async def add_user(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            user = await staff.add_staff(session, raw)
        except FormInvalid as exc:
            return await _users_page(
                request, values=_kept(raw), errors=problem_texts(exc), status=400
            )
        await audit.record(
            session, me(request), "user.create", "user", user.id, ip=request.remote, role=user.role
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/users?saved=1")


async def _user(session: AsyncSession, request: web.Request) -> User:
    user = await session.get(User, int_param(request, "id"))
    if user is None:
        raise web.HTTPNotFound(text="no such user")
    return user


async def _user_page(
    request: web.Request,
    user: User,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        teams = await staff.teams(session)
    current = {
        "full_name": user.full_name,
        "role": user.role,
        "language": user.language,
        "time_zone": user.time_zone,
        "extension": user.extension or "",
        "interface": user.interface or "",
        "team_id": str(user.team_id or ""),
    }
    return render_form_page(
        request,
        "admin/user_edit.html",
        status,
        person=user,
        teams=teams,
        values=values if values is not None else current,
        errors=errors or {},
        **_form_choices(user.time_zone),
    )


@requires(*ADMINS)
async def user_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        user = await _user(session, request)
    return await _user_page(request, user)


@requires(*ADMINS)
async def save_user(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        user = await _user(session, request)
        try:
            await staff.update_staff(session, user, raw, me(request))
        except FormInvalid as exc:
            return await _user_page(
                request, user, values=_kept(raw), errors=problem_texts(exc), status=400
            )
        await audit.record(
            session, me(request), "user.update", "user", user.id, ip=request.remote, role=user.role
        )
        await session.commit()
    raise web.HTTPSeeOther(f"/admin/users/{user.id}?saved=1")


@requires(*ADMINS)
async def set_user_active(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    active = raw.get("active") == "1"
    async with request.app[SERVICES].db() as session:
        user = await _user(session, request)
        try:
            await staff.set_active(session, user, active, me(request))
        except FormInvalid as exc:
            return await _user_page(request, user, errors=problem_texts(exc), status=400)
        action = "user.activate" if active else "user.deactivate"
        await audit.record(session, me(request), action, "user", user.id, ip=request.remote)
        await session.commit()
    if not active:
        # signed out in the database already; their open live channels close now
        await request.app[HUB].disconnect(user.id)
    raise web.HTTPSeeOther(f"/admin/users/{user.id}?saved=1")


@requires(*ADMINS)
async def reset_user_password(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        user = await _user(session, request)
        try:
            await staff.reset_password(session, user, raw.get("password", ""))
        except FormInvalid as exc:
            return await _user_page(request, user, errors=problem_texts(exc), status=400)
        await audit.record(
            session, me(request), "user.password_reset", "user", user.id, ip=request.remote
        )
        await session.commit()
    await request.app[HUB].disconnect(user.id)
    raise web.HTTPSeeOther(f"/admin/users/{user.id}?saved=1")


@requires(*ADMINS)
async def add_team(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            team = await staff.save_team(session, raw.get("name", ""))
        except FormInvalid as exc:
            return await _users_page(
                request,
                team_errors={"new": problem_texts(exc)},
                team_values={"new": raw.get("name", "")},
                status=400,
            )
        await audit.record(
            session, me(request), "team.create", "team", team.id, ip=request.remote, name=team.name
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/users?saved=1#teams")


@requires(*ADMINS)
async def rename_team(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        team = await session.get(Team, int_param(request, "id"))
        if team is None:
            raise web.HTTPNotFound(text="no such team")
        try:
            await staff.save_team(session, raw.get("name", ""), team)
        except FormInvalid as exc:
            key = str(team.id)
            return await _users_page(
                request,
                team_errors={key: problem_texts(exc)},
                team_values={key: raw.get("name", "")},
                status=400,
            )
        await audit.record(
            session, me(request), "team.rename", "team", team.id, ip=request.remote, name=team.name
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/users?saved=1#teams")


# -- queues ---------------------------------------------------------------------------


@requires(*ADMINS)
async def queues_page(request: web.Request) -> web.StreamResponse:
    telephony = request.app[SERVICES].telephony
    rows = None
    if telephony.state == "connected":
        try:
            async with asyncio.timeout(QUEUE_TIMEOUT):
                report = await telephony.queue_status()
        except (TimeoutError, ConnectionError, TelephonyError):
            report = None
        if report is not None:
            async with request.app[SERVICES].db() as session:
                users = list(await session.scalars(select(User)))
            rows = queue_rows(report, users)
    return render_form_page(request, "admin/queues.html", queues=rows)


# -- center settings ------------------------------------------------------------------


@requires(*ADMINS)
async def settings_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        current = await center_settings.load(session)
    values = {
        "operators_see_own_clients_only": "on" if current.operators_see_own_clients_only else "",
        "follow_up_days": str(current.follow_up_days),
        "sla_seconds": str(current.sla_seconds),
        "recording_retention_days": str(current.recording_retention_days),
    }
    return render_form_page(request, "admin/settings.html", values=values, errors={})


@requires(*ADMINS)
async def save_settings(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            changed = await save_settings_form(session, raw, me(request).id)
        except FormInvalid as exc:
            return render_form_page(
                request, "admin/settings.html", 400, values=raw, errors=problem_texts(exc)
            )
        if changed:
            await audit.record(
                session, me(request), "settings.update", ip=request.remote, **changed
            )
        await session.commit()
    raise web.HTTPSeeOther("/admin/settings?saved=1")


# -- audit log ------------------------------------------------------------------------


@requires(*ADMINS)
async def audit_log_page(request: web.Request) -> web.StreamResponse:
    errors: dict[str, str] = {}
    try:
        wanted = read_filter(request.query)
    except FormInvalid as exc:
        errors = problem_texts(exc)
        wanted = read_filter({})
    async with request.app[SERVICES].db() as session:
        page = await audit_page(session, wanted, user_zone())
        people = list(await session.scalars(select(User).order_by(User.full_name)))
    filters = {k: v for k, v in request.query.items() if k != "page" and v}

    def page_link(number: int) -> str:
        return "/admin/audit?" + urlencode({**filters, "page": number})

    return render_form_page(
        request,
        "admin/audit.html",
        400 if errors else 200,
        page=page,
        people=people,
        values=request.query,
        errors=errors,
        details_text=details_text,
        previous_link=page_link(page.page - 1) if page.page > 1 else None,
        next_link=page_link(page.page + 1) if page.has_next else None,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin", admin_index)
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", add_user)
    app.router.add_get("/admin/users/{id}", user_page)
    app.router.add_post("/admin/users/{id}", save_user)
    app.router.add_post("/admin/users/{id}/active", set_user_active)
    app.router.add_post("/admin/users/{id}/password", reset_user_password)
    app.router.add_post("/admin/teams", add_team)
    app.router.add_post("/admin/teams/{id}", rename_team)
    app.router.add_get("/admin/queues", queues_page)
    app.router.add_get("/admin/settings", settings_page)
    app.router.add_post("/admin/settings", save_settings)
    app.router.add_get("/admin/audit", audit_log_page)
    admin_catalogues.add_routes(app)
