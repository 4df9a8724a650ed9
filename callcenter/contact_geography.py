"""A client's region and time zone, filled from their first phone when nobody set them.

Every path that gives a contact phones calls ``fill_from_first_phone`` after the
phones are flushed: creating and editing a client (``client_edit``), the pop's quick
add (``clients``), web-form leads (``web_leads``), merging (``client_merge``) and the
demo data. The CSV import does the same in bulk: its row parser computes the place
of each row's first phone and the INSERT of contacts carries it.

A value is only ever filled, never replaced: a region or zone a person typed stays,
and so does one filled earlier from a phone that was later removed (nobody can tell
the two apart, and the person's choice must win). "First" is the phone stored first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Contact, ContactPhone
from callcenter.phone_geography import geography

MAX_CHOICES = 500


async def fill_from_first_phone(session: AsyncSession, contact: Contact) -> None:
    """Fill ``contact``'s empty region and time zone from its first phone; flushed."""
    if contact.region and contact.time_zone:
        return
    e164 = await session.scalar(
        select(ContactPhone.e164)
        .where(ContactPhone.contact_id == contact.id)
        .order_by(ContactPhone.id)
        .limit(1)
    )
    if e164 is None:
        return
    place = geography(e164)
    if not contact.region and place.region:
        contact.region = place.region
    if not contact.time_zone and place.time_zone:
        contact.time_zone = place.time_zone
    await session.flush()


async def known_places(session: AsyncSession) -> tuple[list[str], list[str]]:
    """The regions and the time zones clients have, for a filter form to offer."""
    regions = await session.scalars(
        select(Contact.region)
        .where(Contact.region.is_not(None), Contact.region != "")
        .group_by(Contact.region)
        .order_by(Contact.region)
        .limit(MAX_CHOICES)
    )
    zones = await session.scalars(
        select(Contact.time_zone)
        .where(Contact.time_zone.is_not(None), Contact.time_zone != "")
        .group_by(Contact.time_zone)
        .order_by(Contact.time_zone)
        .limit(MAX_CHOICES)
    )
    return [r for r in regions if r], [z for z in zones if z]
