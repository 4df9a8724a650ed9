"""Opening one client for a request: merged cards forward, other people's clients are refused."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.access import may_see_contact
from callcenter.client_card import survivor_id
from callcenter.form_errors import whole_number
from callcenter.lookup import contact_name
from callcenter.models import Contact, User
from web.json_api import refusal


class Forwarded(Exception):
    """The client was merged into another one; ``contact_id`` is the survivor."""

    def __init__(self, contact_id: int) -> None:
        super().__init__(contact_id)
        self.contact_id = contact_id


async def open_contact(session: AsyncSession, user: User, contact_id: int) -> Contact:
    """The contact, if it exists, was not merged away and this user may see it."""
    survivor = await survivor_id(session, contact_id)
    if survivor is None:
        raise refusal(web.HTTPNotFound, "no such client")
    if survivor != contact_id:
        raise Forwarded(survivor)
    contact = await session.get(Contact, contact_id)
    assert contact is not None
    if not await may_see_contact(session, user, contact):
        raise refusal(web.HTTPForbidden, "this client is managed by someone else")
    return contact


async def chosen_client(session: AsyncSession, user: User, raw_id: str) -> dict[str, Any] | None:
    """The client a form names by id (a new deal's or task's), as ``{"id", "name"}`` to
    show beside it; nothing if there is no such client or it is someone else's."""
    contact_id = whole_number(raw_id)
    contact = await session.get(Contact, contact_id) if contact_id is not None else None
    if contact is None or not await may_see_contact(session, user, contact):
        return None
    return {"id": contact.id, "name": contact_name(contact)}


def client_ip(request: web.Request) -> str | None:
    """The peer's address for the audit log (nothing for a Unix socket)."""
    try:
        return str(ipaddress.ip_address(request.remote or ""))
    except ValueError:
        return None
