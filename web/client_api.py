"""The client card as JSON: read, create, edit, add a note, page the timeline, merge."""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.access import visible_contacts
from callcenter.client_card import contact_definitions, load_card
from callcenter.client_edit import create_client, update_client
from callcenter.client_fields import MAX_NAME, NAME_FIELDS, parse_client
from callcenter.client_merge import merge_contacts
from callcenter.form_errors import FormInvalid, whole_number
from callcenter.models import Contact, ContactStatus
from callcenter.timeline import (
    add_note,
    link_entry,
    parse_follows,
    parse_note,
    timeline_entry,
    timeline_page,
)
from web.auth import LEADERS, requires
from web.client_access import Forwarded, client_ip, open_contact
from web.json_api import error_response, int_param, invalid_input, json_body, me
from web.openapi import documented
from web.state import SERVICES

_TEXT = {"type": ["string", "null"], "maxLength": MAX_NAME}
_ID = {"type": ["integer", "null"], "minimum": 1}
_LIST = {"type": ["array", "string", "null"], "items": {"type": "string"}}
_CLIENT_BODY: dict[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **dict.fromkeys((*NAME_FIELDS, "position", "company", "region"), _TEXT),
        **dict.fromkeys(("manager_id", "refusal_reason_id", "ad_channel_id", "company_id"), _ID),
        "phones": _LIST,
        "emails": _LIST,
        "tags": _LIST,
        "birthday": {"type": ["string", "null"], "format": "date"},
        "status": {"type": "string", "enum": [s.value for s in ContactStatus]},
        "time_zone": {"type": ["string", "null"]},
        "custom_fields": {"type": "object"},
    },
}
_NOTE_BODY = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "previous_interaction_id": _ID,
    },
}
_FOLLOWS_BODY = {
    "type": "object",
    "required": ["previous_interaction_id"],
    "properties": {"previous_interaction_id": _ID},
}
_MERGE_BODY = {
    "type": "object",
    "required": ["duplicate_id"],
    "properties": {"duplicate_id": {"type": "integer", "minimum": 1}},
}
_TIMELINE_QUERY = {
    "before": {"type": "integer", "minimum": 1},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
}


async def _open_unmerged(session: AsyncSession, request: web.Request) -> Contact:
    """The client the path names; a card merged away is refused (409) rather than
    redirected, so that the API client notices it holds a stale id."""
    try:
        return await open_contact(session, me(request), int_param(request, "id"))
    except Forwarded as forward:
        body = {"error": "the client was merged into another", "merged_into_id": forward.contact_id}
        raise web.HTTPConflict(text=json.dumps(body), content_type="application/json") from None


async def _card_json(
    request: web.Request, session: AsyncSession, contact: Contact
) -> dict[str, object]:
    card = await load_card(session, contact.id, await visible_contacts(session, me(request)))
    assert card is not None
    return card.as_json()


@requires()
async def get_client(request: web.Request) -> web.StreamResponse:
    """A client's card with the first page of their timeline."""
    async with request.app[SERVICES].db() as session:
        try:
            contact = await open_contact(session, me(request), int_param(request, "id"))
        except Forwarded as forward:
            raise web.HTTPSeeOther(f"/api/v1/clients/{forward.contact_id}") from None
        body = {
            "client": await _card_json(request, session, contact),
            "timeline": (await timeline_page(session, contact.id)).as_json(),
        }
        await audit.record(
            session, me(request), "contact.read", "contact", contact.id, client_ip(request)
        )
        await session.commit()
    return web.json_response(body)


@requires()
@documented(query=_TIMELINE_QUERY)
async def get_timeline(request: web.Request) -> web.StreamResponse:
    """One page of a client's timeline, newest first; ``before`` is the last id seen."""
    before = request.query.get("before")
    before_id = None if before is None else whole_number(before)
    limit = whole_number(request.query.get("limit", ""), 3)
    async with request.app[SERVICES].db() as session:
        contact = await _open_unmerged(session, request)
        if before is not None and before_id is None:
            return error_response(400, "invalid input", before="must be an entry id")
        page = await timeline_page(
            session,
            contact.id,
            before=before_id,
            limit=30 if limit is None else limit,
        )
        await audit.record(
            session,
            me(request),
            "contact.read",
            "contact",
            contact.id,
            client_ip(request),
            part="timeline",
        )
        await session.commit()
    return web.json_response(page.as_json())


@requires()
@documented(body=_CLIENT_BODY, status=201)
async def post_client(request: web.Request) -> web.StreamResponse:
    """Create a client (contact, optional company, phones, e-mails, custom fields)."""
    services = request.app[SERVICES]
    body = await json_body(request)
    async with services.db() as session:
        definitions = await contact_definitions(session)
        try:
            changes = parse_client(body, services.settings.default_region, definitions)
            contact = await create_client(session, changes, me(request))
        except FormInvalid as exc:
            return invalid_input(exc, "invalid client")
        await session.commit()
        return web.json_response(
            {"client": await _card_json(request, session, contact)}, status=201
        )


@requires()
@documented(body=_CLIENT_BODY)
async def patch_client(request: web.Request) -> web.StreamResponse:
    """Change some of a client's fields; fields not sent stay as they are."""
    services = request.app[SERVICES]
    body = await json_body(request)
    async with services.db() as session:
        contact = await _open_unmerged(session, request)
        definitions = await contact_definitions(session)
        try:
            changes = parse_client(body, services.settings.default_region, definitions)
            await update_client(session, contact, changes, me(request))
        except FormInvalid as exc:
            return invalid_input(exc, "invalid client")
        await session.commit()
        return web.json_response({"client": await _card_json(request, session, contact)})


@requires()
@documented(body=_NOTE_BODY, status=201)
async def post_note(request: web.Request) -> web.StreamResponse:
    """Add a note to a client's timeline, optionally following an earlier entry."""
    body = await json_body(request)
    async with request.app[SERVICES].db() as session:
        contact = await _open_unmerged(session, request)
        try:
            text, previous = parse_note(body)
            note = await add_note(session, contact, me(request).id, text, previous)
        except FormInvalid as exc:
            return invalid_input(exc, "invalid note")
        await session.commit()
        entry = await timeline_entry(session, note.id)
    assert entry is not None
    return web.json_response({"entry": entry.as_json()}, status=201)


@requires()
@documented(body=_FOLLOWS_BODY)
async def patch_entry(request: web.Request) -> web.StreamResponse:
    """Link a timeline entry to the earlier entry it follows from (null: to none)."""
    body = await json_body(request)
    async with request.app[SERVICES].db() as session:
        contact = await _open_unmerged(session, request)
        try:
            entry = await link_entry(
                session, contact, int_param(request, "entry_id"), parse_follows(body)
            )
        except FormInvalid as exc:
            return invalid_input(exc, "invalid link")
        await session.commit()
        shown = await timeline_entry(session, entry.id)
    assert shown is not None
    return web.json_response({"entry": shown.as_json()})


@requires(*LEADERS)
@documented(body=_MERGE_BODY)
async def post_merge(request: web.Request) -> web.StreamResponse:
    """Merge the client ``duplicate_id`` into this one; the duplicate then forwards here."""
    body = await json_body(request)
    duplicate_id = body.get("duplicate_id") if isinstance(body, dict) else None
    if isinstance(duplicate_id, bool) or not isinstance(duplicate_id, int):
        return error_response(400, "invalid merge", duplicate_id="must be a client id")
    async with request.app[SERVICES].db() as session:
        contact = await _open_unmerged(session, request)
        try:
            await merge_contacts(session, contact.id, duplicate_id, me(request))
        except FormInvalid as exc:
            return invalid_input(exc, "invalid merge")
        await session.commit()
        return web.json_response(
            {"client": await _card_json(request, session, contact), "merged": duplicate_id}
        )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/clients", post_client)
    app.router.add_get(r"/api/v1/clients/{id:\d+}", get_client)
    app.router.add_patch(r"/api/v1/clients/{id:\d+}", patch_client)
    app.router.add_get(r"/api/v1/clients/{id:\d+}/timeline", get_timeline)
    app.router.add_post(r"/api/v1/clients/{id:\d+}/notes", post_note)
    app.router.add_patch(r"/api/v1/clients/{id:\d+}/timeline/{entry_id:\d+}", patch_entry)
    app.router.add_post(r"/api/v1/clients/{id:\d+}/merge", post_merge)
