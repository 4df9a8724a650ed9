"""Admin pages for the lists the rest of the product picks from: call results
(dispositions) and custom fields of contacts and companies.

Both are the same kind of page: a table of rows, each row its own form, a form to add
one more, and rows deactivated rather than deleted. ``Catalogue`` says what differs;
the handlers below share everything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, custom_fields, dispositions
from callcenter.form_errors import FormInvalid, checkbox
from callcenter.models import CustomFieldDefinition, CustomFieldEntity, CustomFieldType, Disposition
from web.auth import ADMINS, requires
from web.forms import posted, problem_texts, render_form_page
from web.json_api import int_param, me
from web.state import SERVICES

CatalogueRow = Disposition | CustomFieldDefinition


@dataclass(frozen=True)
class Catalogue:
    path: str
    template: str
    # the audit log's entity name, also the prefix of its actions ("disposition.create")
    entity: str
    model: type[CatalogueRow]
    not_found: str
    all_rows: Callable[[AsyncSession], Awaitable[Sequence[CatalogueRow]]]
    add: Callable[[AsyncSession, Mapping[str, str]], Awaitable[CatalogueRow]]
    # raises FormInvalid, leaving the row as it was
    apply: Callable[[Any, Mapping[str, str]], None]
    choices: Mapping[str, Any] = field(default_factory=dict)


def _apply_disposition(row: Disposition, raw: Mapping[str, str]) -> None:
    dispositions.apply_form(row, dispositions.read_form(raw))


def _apply_field(row: CustomFieldDefinition, raw: Mapping[str, str]) -> None:
    custom_fields.apply_labels(row, custom_fields.read_labels(raw, row.value_type))


DISPOSITIONS = Catalogue(
    path="/admin/dispositions",
    template="admin/dispositions.html",
    entity="disposition",
    model=Disposition,
    not_found="no such call result",
    all_rows=dispositions.all_dispositions,
    add=dispositions.add_disposition,
    apply=_apply_disposition,
)
CUSTOM_FIELDS = Catalogue(
    path="/admin/custom-fields",
    template="admin/custom_fields.html",
    entity="custom_field",
    model=CustomFieldDefinition,
    not_found="no such field",
    all_rows=custom_fields.all_fields,
    add=custom_fields.add_field,
    apply=_apply_field,
    choices={
        "entities": [e.value for e in CustomFieldEntity],
        "value_types": [t.value for t in CustomFieldType],
    },
)


async def _page(
    request: web.Request,
    catalogue: Catalogue,
    refused: tuple[str, Mapping[str, str], FormInvalid] | None = None,
) -> web.StreamResponse:
    """The table; ``refused`` is the form sent back ("new" or the row's id), as typed."""
    async with request.app[SERVICES].db() as session:
        rows = await catalogue.all_rows(session)
    return render_form_page(
        request,
        catalogue.template,
        400 if refused else 200,
        rows=rows,
        refused_key=refused[0] if refused else None,
        refused_values=refused[1] if refused else {},
        errors=problem_texts(refused[2]) if refused else {},
        **catalogue.choices,
    )


async def _row(session: AsyncSession, request: web.Request, catalogue: Catalogue) -> Any:
    row = await session.get(catalogue.model, int_param(request, "id"))
    if row is None:
        raise web.HTTPNotFound(text=catalogue.not_found)
    return row


async def _audit(
    session: AsyncSession, request: web.Request, catalogue: Catalogue, change: str, row_id: int
) -> None:
    action = f"{catalogue.entity}.{change}"
    await audit.record(session, me(request), action, catalogue.entity, row_id, ip=request.remote)


def _saved(catalogue: Catalogue) -> web.HTTPException:
    return web.HTTPSeeOther(f"{catalogue.path}?saved=1")


async def _add(request: web.Request, catalogue: Catalogue) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            row = await catalogue.add(session, raw)
        except FormInvalid as exc:
            return await _page(request, catalogue, ("new", raw, exc))
        await _audit(session, request, catalogue, "create", row.id)
        await session.commit()
    raise _saved(catalogue)


async def _save(request: web.Request, catalogue: Catalogue) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _row(session, request, catalogue)
        try:
            catalogue.apply(row, raw)
        except FormInvalid as exc:
            return await _page(request, catalogue, (str(row.id), raw, exc))
        await _audit(session, request, catalogue, "update", row.id)
        await session.commit()
    raise _saved(catalogue)


async def _set_active(request: web.Request, catalogue: Catalogue) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        row = await _row(session, request, catalogue)
        row.is_active = checkbox(raw, "active")
        await _audit(
            session, request, catalogue, "activate" if row.is_active else "deactivate", row.id
        )
        await session.commit()
    raise _saved(catalogue)


# -- call results ---------------------------------------------------------------------


@requires(*ADMINS)
async def dispositions_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, DISPOSITIONS)


@requires(*ADMINS)
async def add_disposition(request: web.Request) -> web.StreamResponse:
    return await _add(request, DISPOSITIONS)


@requires(*ADMINS)
async def save_disposition(request: web.Request) -> web.StreamResponse:
    return await _save(request, DISPOSITIONS)


@requires(*ADMINS)
async def move_disposition(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    step = -1 if raw.get("direction") == "up" else 1
    async with request.app[SERVICES].db() as session:
        row = await _row(session, request, DISPOSITIONS)
        await dispositions.move(session, row, step)
        await session.commit()
    raise web.HTTPSeeOther(DISPOSITIONS.path)


@requires(*ADMINS)
async def set_disposition_active(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, DISPOSITIONS)


# -- custom fields --------------------------------------------------------------------


@requires(*ADMINS)
async def custom_fields_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, CUSTOM_FIELDS)


@requires(*ADMINS)
async def add_custom_field(request: web.Request) -> web.StreamResponse:
    return await _add(request, CUSTOM_FIELDS)


@requires(*ADMINS)
async def save_custom_field(request: web.Request) -> web.StreamResponse:
    return await _save(request, CUSTOM_FIELDS)


@requires(*ADMINS)
async def set_custom_field_active(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, CUSTOM_FIELDS)


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
