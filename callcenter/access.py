"""Which clients a user may see: everyone's, or (an operator, when the center says so)
only the clients they manage."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import center_settings
from callcenter.models import Contact, Role, User


async def limited_to_own_clients(session: AsyncSession, user: User) -> bool:
    if user.role != Role.OPERATOR:
        return False
    return (await center_settings.load(session)).operators_see_own_clients_only


async def visible_contacts(session: AsyncSession, user: User) -> ColumnElement[bool]:
    """A WHERE clause on ``Contact`` for every list and search this user reads."""
    if await limited_to_own_clients(session, user):
        return Contact.manager_id == user.id
    return true()


async def may_see_contact(session: AsyncSession, user: User, contact: Contact) -> bool:
    if await limited_to_own_clients(session, user):
        return contact.manager_id == user.id
    return True
