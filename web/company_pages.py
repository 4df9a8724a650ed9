"""The company card: its own details and fields, and its contact persons."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.access import visible_contacts
from callcenter.companies import company_definitions, load_company, parse_company, update_company
from callcenter.form_errors import FormInvalid
from callcenter.models import Company, User
from web.auth import requires
from web.client_access import client_ip
from web.forms import (
    custom_fields_body,
    custom_fields_shown_again,
    posted,
    problem_texts,
    render_form_page,
)
from web.json_api import int_param, me
from web.state import SERVICES

_FIELDS = ("name", "tax_id", "address", "notes", "manager_id")


def _stored_values(company: Company) -> dict[str, Any]:
    values: dict[str, Any] = {key: getattr(company, key) or "" for key in _FIELDS}
    values["manager_id"] = str(company.manager_id or "")
    values["custom_fields"] = dict(company.custom_fields or {})
    return values


async def _render(
    request: web.Request,
    session: AsyncSession,
    company_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = me(request)
    card = await load_company(session, company_id, await visible_contacts(session, user))
    if card is None:
        raise web.HTTPNotFound(text="no such company")
    managers = list(
        await session.execute(
            select(User.id, User.full_name).where(User.is_active.is_(True)).order_by(User.full_name)
        )
    )
    definitions = await company_definitions(session)
    await audit.record(session, user, "company.read", "company", company_id, client_ip(request))
    await session.commit()
    return render_form_page(
        request,
        "company.html",
        status,
        card=card,
        values=values or _stored_values(card.company),
        errors=errors or {},
        managers=managers,
        definitions=definitions,
    )


@requires()
async def company_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        return await _render(request, session, int_param(request, "id"))


@requires()
async def company_submit(request: web.Request) -> web.StreamResponse:
    """Change the company's own details; its persons are edited on their cards."""
    form = await posted(request)
    company_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        company = await session.get(Company, company_id, with_for_update=True)
        if company is None:
            raise web.HTTPNotFound(text="no such company")
        definitions = await company_definitions(session)
        body: dict[str, Any] = {key: form.get(key, "") for key in _FIELDS}
        body["custom_fields"] = custom_fields_body(form, definitions)
        try:
            await update_company(session, company, parse_company(body, definitions), me(request))
        except FormInvalid as exc:
            values: dict[str, Any] = {key: form.get(key, "") for key in _FIELDS}
            values["custom_fields"] = custom_fields_shown_again(form, definitions)
            await session.rollback()
            session.expunge_all()  # read the company again as stored
            return await _render(
                request,
                session,
                company_id,
                values=values,
                errors=problem_texts(exc),
                status=400,
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/companies/{company_id}?saved=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/companies/{id:\d+}", company_page)
    app.router.add_post(r"/companies/{id:\d+}", company_submit)
