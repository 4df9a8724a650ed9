"""The client card and its forms: read, add a note, create, edit, merge duplicates.

``add_routes`` also registers the card's JSON twin (``web.client_api``) and call
recordings (``web.recordings``), so the app wires the whole client card in one line.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, time_zones
from callcenter.access import visible_contacts
from callcenter.client_card import contact_definitions, load_card
from callcenter.client_edit import create_client, update_client
from callcenter.client_fields import parse_client
from callcenter.client_merge import duplicate_candidates, merge_contacts
from callcenter.contact_geography import known_places
from callcenter.form_errors import FormInvalid, whole_number
from callcenter.models import (
    AdChannel,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    ContactStatus,
    CustomFieldDefinition,
    RefusalReason,
    User,
)
from callcenter.timeline import add_note, link_entry, parse_follows, parse_note, timeline_page
from web import client_api, recordings
from web.auth import LEADERS, requires
from web.client_access import Forwarded, client_ip, open_contact
from web.forms import custom_fields_body, custom_fields_shown_again, posted, problem_texts
from web.json_api import int_param, me
from web.pages import page_context
from web.state import SERVICES

_LIST_FIELDS = ("phones", "emails", "tags")
_FORM_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "display_name",
    "position",
    "company",
    *_LIST_FIELDS,
    "birthday",
    "status",
    "manager_id",
    "refusal_reason_id",
    "ad_channel_id",
    "region",
    "time_zone",
)


async def _open(session: AsyncSession, request: web.Request, then: str = "") -> Contact:
    """The client the path names; a card merged away redirects to the survivor's ``then``."""
    try:
        return await open_contact(session, me(request), int_param(request, "id"))
    except Forwarded as forward:
        raise web.HTTPSeeOther(f"/clients/{forward.contact_id}{then}") from None


async def _render_card(
    request: web.Request,
    session: AsyncSession,
    contact: Contact,
    *,
    errors: dict[str, str] | None = None,
    note: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = me(request)
    card = await load_card(session, contact.id, await visible_contacts(session, user))
    assert card is not None
    before = whole_number(request.query.get("before", ""))
    timeline = await timeline_page(session, contact.id, before=before)
    # "follows from" offers the newest entries, whichever page is shown
    recent = timeline if before is None else await timeline_page(session, contact.id)
    await audit.record(session, user, "contact.read", "contact", contact.id, client_ip(request))
    await session.commit()
    context = page_context(
        request,
        card=card,
        timeline=timeline,
        recent=recent.entries,
        errors=errors or {},
        note=note or {},
        may_merge=user.role in LEADERS,
    )
    return aiohttp_jinja2.render_template("client_card.html", request, context, status=status)


@requires()
async def card_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request)
        return await _render_card(request, session, contact)


@requires()
async def note_submit(request: web.Request) -> web.StreamResponse:
    form = await posted(request)
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request)
        try:
            text, previous = parse_note(form)
            note = await add_note(session, contact, me(request).id, text, previous)
        except FormInvalid as exc:
            contact = await _after_rollback(session, contact)
            return await _render_card(
                request, session, contact, errors=problem_texts(exc), note=form, status=400
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/clients/{contact.id}#entry-{note.id}")


@requires()
async def follows_submit(request: web.Request) -> web.StreamResponse:
    """Link a timeline entry to the earlier entry it follows from."""
    form = await posted(request)
    entry_id = int_param(request, "entry_id")
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request)
        try:
            await link_entry(session, contact, entry_id, parse_follows(form))
        except FormInvalid as exc:
            contact = await _after_rollback(session, contact)
            return await _render_card(
                request, session, contact, errors=problem_texts(exc), status=400
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/clients/{contact.id}#entry-{entry_id}")


async def _after_rollback(session: AsyncSession, contact: Contact) -> Contact:
    """Undo whatever the refused change wrote; the contact is read again as stored."""
    contact_id = contact.id
    await session.rollback()
    stored = await session.get(Contact, contact_id)
    assert stored is not None
    return stored


async def _form_options(session: AsyncSession) -> dict[str, Any]:
    return {
        "managers": list(
            await session.execute(
                select(User.id, User.full_name)
                .where(User.is_active.is_(True))
                .order_by(User.full_name)
            )
        ),
        "reasons": list(
            await session.execute(
                select(RefusalReason.id, RefusalReason.name)
                .where(RefusalReason.is_active.is_(True))
                .order_by(RefusalReason.name)
            )
        ),
        "channels": list(
            await session.execute(
                select(AdChannel.id, AdChannel.name)
                .where(AdChannel.is_active.is_(True))
                .order_by(AdChannel.name)
            )
        ),
        "definitions": await contact_definitions(session),
        "known_regions": (await known_places(session))[0],
        "statuses": [s.value for s in ContactStatus],
    }


def _body(form: dict[str, str], definitions: list[CustomFieldDefinition]) -> dict[str, Any]:
    """A posted form in the shape the JSON API takes (an unticked checkbox is not sent)."""
    body: dict[str, Any] = {key: form.get(key, "") for key in _FORM_FIELDS}
    body["custom_fields"] = custom_fields_body(form, definitions)
    return body


async def _values_of(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    """A stored contact as the form shows it."""
    company = await session.get(Company, contact.company_id) if contact.company_id else None
    values: dict[str, Any] = {
        key: getattr(contact, key) or ""
        for key in ("first_name", "last_name", "middle_name", "display_name", "position")
    }
    phones = await session.scalars(
        select(ContactPhone.raw)
        .where(ContactPhone.contact_id == contact.id)
        .order_by(ContactPhone.id)
    )
    emails = await session.scalars(
        select(ContactEmail.email)
        .where(ContactEmail.contact_id == contact.id)
        .order_by(ContactEmail.id)
    )
    values |= {
        "company": company.name if company else "",
        "phones": "\n".join(phones),
        "emails": "\n".join(emails),
        "tags": ", ".join(contact.tags),
        "birthday": contact.birthday.isoformat() if contact.birthday else "",
        "status": contact.status,
        "manager_id": str(contact.manager_id or ""),
        "refusal_reason_id": str(contact.refusal_reason_id or ""),
        "ad_channel_id": str(contact.ad_channel_id or ""),
        "region": contact.region or "",
        "time_zone": contact.time_zone or "",
        "custom_fields": dict(contact.custom_fields or {}),
    }
    return values


def _posted_values(
    form: dict[str, str], definitions: list[CustomFieldDefinition]
) -> dict[str, Any]:
    values: dict[str, Any] = {key: form.get(key, "") for key in _FORM_FIELDS}
    values["custom_fields"] = custom_fields_shown_again(form, definitions)
    return values


async def _render_form(
    request: web.Request,
    session: AsyncSession,
    *,
    contact: Contact | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    context = page_context(
        request,
        contact=contact,
        values=values,
        errors=errors or {},
        time_zones=time_zones.choices(values.get("time_zone")),
        **await _form_options(session),
    )
    return aiohttp_jinja2.render_template("client_form.html", request, context, status=status)


@requires()
async def new_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        values: dict[str, Any] = dict.fromkeys(_FORM_FIELDS, "")
        values |= {"status": ContactStatus.LEAD.value, "custom_fields": {}}
        # "new client" from an unknown caller's number or a search that found nothing
        values["phones"] = request.query.get("phone", "")[:100]
        return await _render_form(request, session, contact=None, values=values)


@requires()
async def new_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await posted(request)
    async with services.db() as session:
        definitions = await contact_definitions(session)
        values = _posted_values(form, definitions)
        try:
            changes = parse_client(
                _body(form, definitions), services.settings.default_region, definitions
            )
            contact = await create_client(session, changes, me(request))
        except FormInvalid as exc:
            await session.rollback()
            return await _render_form(
                request,
                session,
                contact=None,
                values=values,
                errors=problem_texts(exc),
                status=400,
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/clients/{contact.id}")


@requires()
async def edit_form(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request, "/edit")
        values = await _values_of(session, contact)
        await audit.record(
            session, me(request), "contact.read", "contact", contact.id, client_ip(request)
        )
        await session.commit()
        return await _render_form(request, session, contact=contact, values=values)


@requires()
async def edit_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await posted(request)
    async with services.db() as session:
        contact = await _open(session, request)
        definitions = await contact_definitions(session)
        body = _body(form, definitions)
        # the same company name keeps the same company (names need not be unique)
        if contact.company_id is not None:
            current = await session.get(Company, contact.company_id)
            if current is not None and current.name == " ".join(body["company"].split()):
                body["company_id"] = current.id
                del body["company"]
        values = _posted_values(form, definitions)
        try:
            changes = parse_client(body, services.settings.default_region, definitions)
            await update_client(session, contact, changes, me(request))
        except FormInvalid as exc:
            contact = await _after_rollback(session, contact)
            return await _render_form(
                request,
                session,
                contact=contact,
                values=values,
                errors=problem_texts(exc),
                status=400,
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/clients/{contact.id}")


async def _render_duplicates(
    request: web.Request,
    session: AsyncSession,
    contact: Contact,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = me(request)
    card = await load_card(session, contact.id, await visible_contacts(session, user))
    candidates = await duplicate_candidates(session, contact.id)
    # the page shows this card and each candidate's: every one of them was read
    for read_id in (contact.id, *(c.contact_id for c in candidates)):
        await audit.record(
            session, user, "contact.read", "contact", read_id, client_ip(request), part="duplicates"
        )
    await session.commit()
    context = page_context(request, card=card, candidates=candidates, errors=errors or {})
    return aiohttp_jinja2.render_template("client_duplicates.html", request, context, status=status)


@requires(*LEADERS)
async def duplicates_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request, "/duplicates")
        return await _render_duplicates(request, session, contact)


@requires(*LEADERS)
async def merge_submit(request: web.Request) -> web.StreamResponse:
    form = await posted(request)
    async with request.app[SERVICES].db() as session:
        contact = await _open(session, request, "/duplicates")
        duplicate_id = whole_number(form.get("duplicate_id", "").strip().lstrip("#"))
        try:
            if duplicate_id is None:
                raise FormInvalid({"duplicate_id": "Must be an id."})
            await merge_contacts(session, contact.id, duplicate_id, me(request))
        except FormInvalid as exc:
            contact = await _after_rollback(session, contact)
            return await _render_duplicates(
                request, session, contact, errors=problem_texts(exc), status=400
            )
        await session.commit()
    raise web.HTTPSeeOther(f"/clients/{contact.id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/clients/new", new_form)
    app.router.add_post("/clients/new", new_submit)
    app.router.add_get(r"/clients/{id:\d+}", card_page)
    app.router.add_post(r"/clients/{id:\d+}/notes", note_submit)
    app.router.add_post(r"/clients/{id:\d+}/entries/{entry_id:\d+}/follows", follows_submit)
    app.router.add_get(r"/clients/{id:\d+}/edit", edit_form)
    app.router.add_post(r"/clients/{id:\d+}/edit", edit_submit)
    app.router.add_get(r"/clients/{id:\d+}/duplicates", duplicates_page)
    app.router.add_post(r"/clients/{id:\d+}/merge", merge_submit)
    client_api.add_routes(app)
    recordings.add_routes(app)
