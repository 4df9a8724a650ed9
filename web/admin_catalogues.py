"""Admin pages for the lists the rest of the product picks from: call results
(dispositions) and custom fields of contacts and companies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, custom_fields, dispositions
from callcenter.form_errors import FormInvalid, checkbox
from callcenter.models import CustomFieldDefinition, CustomFieldEntity, CustomFieldType, Disposition
from web.auth import ADMINS, requires
from web.forms import posted, problem_texts
from web.json_api import int_param, me
from web.pages import _context
from web.state import SERVICES

# which row's form a refused post came from: "new" or the row's id
Refused = tuple[str, Mapping[str, str], Mapping[str, str]]


def _refused(key: str, raw: Mapping[str, str], exc: FormInvalid) -> Refused:
    return key, raw, problem_texts(exc)


# -- call results ---------------------------------------------------------------------


async def _dispositions_page(
    request: web.Request, refused: Refused | None = None
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        rows = await dispositions.all_dispositions(session)
    context = _context(
        request,
        saved=request.query.get("saved") == "1",
        rows=rows,
        refused_key=refused[0] if refused else None,
        refused_values=refused[1] if refused else {},
        errors=refused[2] if refused else {},
    )
    return aiohttp_jinja2.render_template(
        "admin/dispositions.html", request, context, status=400 if refused else 200
    )


async def _disposition(session: AsyncSession, request: web.Request) -> Disposition:
    row = await session.get(Disposition, int_param(request, "id"))
    if row is None:
        raise web.HTTPNotFound(text="no such call result")
    return row


@requires(*ADMINS)
async def dispositions_page(request: web.Request) -> web.StreamResponse:
    return await _dispositions_page(request)


@requires(*ADMINS)
async def add_disposition(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            row = await dispositions.add_disposition(session, raw)
        except FormInvalid as exc:
            return await _dispositions_page(request, _refused("new", raw, exc))
        await audit.record(
            session, me(request), "disposition.create", "disposition", row.id, ip=request.remote
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/dispositions?saved=1")


@requires(*ADMINS)
async def save_disposition(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _disposition(session, request)
        try:
            dispositions.apply_form(row, dispositions.read_form(raw))
        except FormInvalid as exc:
            return await _dispositions_page(request, _refused(str(row.id), raw, exc))
        await audit.record(
            session, me(request), "disposition.update", "disposition", row.id, ip=request.remote
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/dispositions?saved=1")


@requires(*ADMINS)
async def move_disposition(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    step = -1 if raw.get("direction") == "up" else 1
    async with request.app[SERVICES].db() as session:
        row = await _disposition(session, request)
        await dispositions.move(session, row, step)
        await session.commit()
    raise web.HTTPSeeOther("/admin/dispositions")


@requires(*ADMINS)
async def set_disposition_active(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _disposition(session, request)
        row.is_active = checkbox(raw, "active")
        action = "disposition.activate" if row.is_active else "disposition.deactivate"
        await audit.record(session, me(request), action, "disposition", row.id, ip=request.remote)
        await session.commit()
    raise web.HTTPSeeOther("/admin/dispositions?saved=1")


# -- custom fields --------------------------------------------------------------------


async def _fields_page(request: web.Request, refused: Refused | None = None) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        rows = await custom_fields.all_fields(session)
    context: dict[str, Any] = _context(
        request,
        saved=request.query.get("saved") == "1",
        rows=rows,
        entities=[e.value for e in CustomFieldEntity],
        value_types=[t.value for t in CustomFieldType],
        refused_key=refused[0] if refused else None,
        refused_values=refused[1] if refused else {},
        errors=refused[2] if refused else {},
    )
    return aiohttp_jinja2.render_template(
        "admin/custom_fields.html", request, context, status=400 if refused else 200
    )


async def _field(session: AsyncSession, request: web.Request) -> CustomFieldDefinition:
    row = await session.get(CustomFieldDefinition, int_param(request, "id"))
    if row is None:
        raise web.HTTPNotFound(text="no such field")
    return row


@requires(*ADMINS)
async def custom_fields_page(request: web.Request) -> web.StreamResponse:
    return await _fields_page(request)


@requires(*ADMINS)
async def add_custom_field(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            row = await custom_fields.add_field(session, raw)
        except FormInvalid as exc:
            return await _fields_page(request, _refused("new", raw, exc))
        await audit.record(
            session, me(request), "custom_field.create", "custom_field", row.id, ip=request.remote
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/custom-fields?saved=1")


@requires(*ADMINS)
async def save_custom_field(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _field(session, request)
        try:
            custom_fields.apply_labels(row, custom_fields.read_labels(raw, row.value_type))
        except FormInvalid as exc:
            return await _fields_page(request, _refused(str(row.id), raw, exc))
        await audit.record(
            session, me(request), "custom_field.update", "custom_field", row.id, ip=request.remote
        )
        await session.commit()
    raise web.HTTPSeeOther("/admin/custom-fields?saved=1")


@requires(*ADMINS)
async def set_custom_field_active(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _field(session, request)
        row.is_active = checkbox(raw, "active")
        action = "custom_field.activate" if row.is_active else "custom_field.deactivate"
        await audit.record(session, me(request), action, "custom_field", row.id, ip=request.remote)
        await session.commit()
    raise web.HTTPSeeOther("/admin/custom-fields?saved=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/dispositions", dispositions_page)
    app.router.add_post("/admin/dispositions", add_disposition)
    app.router.add_post("/admin/dispositions/{id}", save_disposition)
    app.router.add_post("/admin/dispositions/{id}/move", move_disposition)
    app.router.add_post("/admin/dispositions/{id}/active", set_disposition_active)
    app.router.add_get("/admin/custom-fields", custom_fields_page)
    app.router.add_post("/admin/custom-fields", add_custom_field)
    app.router.add_post("/admin/custom-fields/{id}", save_custom_field)
    app.router.add_post("/admin/custom-fields/{id}/active", set_custom_field_active)
