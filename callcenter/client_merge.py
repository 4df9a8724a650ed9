"""Duplicate clients: finding them, and merging one into another.

Phones and e-mails are unique, so two cards can never share one exactly; duplicates
show up as the same number under a different country code ("8 495..." read abroad),
the same mailbox written with a ``+tag``, or the same person at the same company.
A merged duplicate is kept, forwarding to the survivor: old links and reports that
point at it still resolve, and search no longer finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.contact_geography import fill_from_first_phone
from callcenter.form_errors import FormInvalid
from callcenter.lookup import contact_name
from callcenter.models import (
    Call,
    Consent,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Interaction,
    InteractionKind,
    Lead,
    Task,
    User,
)

MAX_CANDIDATES = 20
# the national part of a number: the same ten digits under two country codes is one phone
_NATIONAL_DIGITS = 10
# what the survivor takes from the duplicate when it has none of its own
_FILLED_FROM_DUPLICATE = (
    "company_id",
    "position",
    "manager_id",
    "ad_channel_id",
    "birthday",
    "time_zone",
    "region",
)
_MOVED = (Call, Interaction, Task, Deal, Lead, Consent, ContactPhone, ContactEmail)


@dataclass(frozen=True)
class Candidate:
    contact_id: int
    name: str
    reasons: tuple[str, ...]  # "phone", "email", "name"


def _mailbox(email: str) -> str:
    """``ivan+shop@mail.ru`` -> ``ivan@mail.ru``."""
    local, _, domain = email.partition("@")
    return local.split("+", 1)[0] + "@" + domain


async def duplicate_candidates(session: AsyncSession, contact_id: int) -> list[Candidate]:
    """Other live contacts that look like the same client, most reasons first."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return []
    reasons: dict[int, list[str]] = {}

    def found(ids: Any, reason: str) -> None:
        for other in ids:
            if other != contact_id and reason not in reasons.setdefault(other, []):
                reasons[other].append(reason)

    live = Contact.merged_into_id.is_(None)
    phones = list(
        await session.scalars(
            select(ContactPhone.e164).where(ContactPhone.contact_id == contact_id)
        )
    )
    for e164 in phones:
        tail = e164[-_NATIONAL_DIGITS:]
        # the trigram index on e164 serves this suffix match
        found(
            await session.scalars(
                select(ContactPhone.contact_id)
                .join(Contact, Contact.id == ContactPhone.contact_id)
                .where(ContactPhone.e164.like(f"%{tail}"), live)
                .limit(MAX_CANDIDATES)
            ),
            "phone",
        )
    emails = list(
        await session.scalars(
            select(ContactEmail.email).where(ContactEmail.contact_id == contact_id)
        )
    )
    for email in emails:
        local, _, domain = _mailbox(email).partition("@")
        rows = await session.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(ContactEmail.email.like(f"{_escape(local)}%@{_escape(domain)}"), live)
            .limit(MAX_CANDIDATES)
        )
        found((cid for cid, other in rows if _mailbox(other) == _mailbox(email)), "email")
    name = _normalised_name(contact)
    if name:
        same_name = select(Contact.id).where(
            live,
            func.lower(
                func.concat_ws(" ", Contact.last_name, Contact.first_name, Contact.middle_name)
            )
            == name,
        )
        if contact.company_id is None:
            same_name = same_name.where(Contact.company_id.is_(None))
        else:
            same_name = same_name.where(Contact.company_id == contact.company_id)
        found(await session.scalars(same_name.limit(MAX_CANDIDATES)), "name")
    if not reasons:
        return []
    others = {
        c.id: c for c in await session.scalars(select(Contact).where(Contact.id.in_(reasons)))
    }
    candidates = [
        Candidate(other_id, contact_name(others[other_id]), tuple(why))
        for other_id, why in reasons.items()
        if other_id in others
    ]
    candidates.sort(key=lambda c: (-len(c.reasons), c.contact_id))
    return candidates[:MAX_CANDIDATES]


def _escape(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _normalised_name(contact: Contact) -> str:
    parts = (contact.last_name, contact.first_name, contact.middle_name)
    return " ".join(p for p in parts if p).lower()


async def merge_contacts(
    session: AsyncSession, survivor_id: int, duplicate_id: int, actor: User
) -> Contact:
    """Merge the duplicate into the survivor, in the caller's transaction.

    Everything that belongs to the duplicate (phones, e-mails, calls, timeline, tasks,
    deals, campaign leads, consents) moves to the survivor; the survivor's empty fields
    are filled from the duplicate and the tags are united. The duplicate is kept,
    forwarding to the survivor.
    """
    if survivor_id == duplicate_id:
        raise FormInvalid({"duplicate_id": "A client cannot be merged into itself."})
    # both rows locked, in id order, so two merges of the same pair cannot deadlock
    locked = {
        c.id: c
        for c in await session.scalars(
            select(Contact)
            .where(Contact.id.in_([survivor_id, duplicate_id]))
            .order_by(Contact.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    survivor, duplicate = locked.get(survivor_id), locked.get(duplicate_id)
    if survivor is None or survivor.merged_into_id is not None:
        raise FormInvalid({"id": "No such client, or it was merged into another."})
    if duplicate is None:
        raise FormInvalid({"duplicate_id": "No such client."})
    if duplicate.merged_into_id is not None:
        raise FormInvalid({"duplicate_id": "Already merged into another client."})

    for model in _MOVED:
        column: Any = model.contact_id
        await session.execute(
            update(model)
            .where(column == duplicate_id)
            .values(contact_id=survivor_id)
            .execution_options(synchronize_session=False)
        )
    # earlier duplicates of the duplicate now forward straight to the survivor
    await session.execute(
        update(Contact)
        .where(Contact.merged_into_id == duplicate_id)
        .values(merged_into_id=survivor_id)
        .execution_options(synchronize_session=False)
    )
    for key in _FILLED_FROM_DUPLICATE:
        if getattr(survivor, key) is None and getattr(duplicate, key) is not None:
            setattr(survivor, key, getattr(duplicate, key))
    survivor.tags = list(dict.fromkeys([*survivor.tags, *duplicate.tags]))
    # a survivor that had no phone now has the duplicate's; its place may follow
    await fill_from_first_phone(session, survivor)
    survivor.custom_fields = {**(duplicate.custom_fields or {}), **(survivor.custom_fields or {})}
    duplicate.merged_into_id = survivor_id
    session.add(
        Interaction(
            contact_id=survivor_id,
            company_id=survivor.company_id,
            kind=InteractionKind.NOTE.value,
            author_id=actor.id,
            summary=f"Merged duplicate {contact_name(duplicate)} (#{duplicate_id})",
            payload={
                "event": "merge",
                "duplicate_id": duplicate_id,
                "duplicate_name": contact_name(duplicate),
            },
        )
    )
    await audit.record(
        session, actor, "contact.merge", "contact", survivor_id, duplicate_id=duplicate_id
    )
    await session.flush()
    return survivor
