"""Creating and editing clients: names, company, phones, e-mails, status, custom fields.

``callcenter.client_fields.parse_client`` checks what was sent; ``create_client`` and
``update_client`` check it against the database (a number that belongs to someone
else, an unknown manager) before writing anything, and write a ``status_change``
timeline entry whenever the status or refusal reason changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.client_fields import NAME_FIELDS, TEXT_FIELDS
from callcenter.contact_geography import fill_from_first_phone
from callcenter.form_errors import FormInvalid, Problems
from callcenter.lookup import contact_name
from callcenter.models import (
    AdChannel,
    Call,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    ContactStatus,
    Interaction,
    InteractionKind,
    RefusalReason,
    User,
)


async def create_client(session: AsyncSession, changes: dict[str, Any], actor: User) -> Contact:
    """A new contact from ``parse_client``'s output; flushed, not committed."""
    if not any(changes.get(key) for key in NAME_FIELDS):
        raise FormInvalid({"display_name": "A client needs a name."})
    contact = Contact(status=ContactStatus.LEAD.value, tags=[], custom_fields={})
    await _apply(session, contact, changes, actor, creating=True)
    await audit.record(session, actor, "contact.create", "contact", contact.id)
    return contact


async def update_client(
    session: AsyncSession, contact: Contact, changes: dict[str, Any], actor: User
) -> Contact:
    """Apply ``parse_client``'s output to a stored contact; flushed, not committed."""
    await _apply(session, contact, changes, actor, creating=False)
    await audit.record(
        session, actor, "contact.update", "contact", contact.id, fields=sorted(changes)
    )
    return contact


async def _apply(
    session: AsyncSession,
    contact: Contact,
    changes: dict[str, Any],
    actor: User,
    *,
    creating: bool,
) -> None:
    problems = Problems()
    await _check_against_database(session, contact, changes, problems)
    old_status, old_reason = contact.status, contact.refusal_reason_id
    status = changes.get("status", contact.status)
    reason = changes.get("refusal_reason_id", contact.refusal_reason_id)
    if status == ContactStatus.REFUSED and reason is None:
        problems.add("refusal_reason_id", "A refused client needs a refusal reason.")
    if not creating:
        names = {key: changes.get(key, getattr(contact, key)) for key in NAME_FIELDS}
        if not any(names.values()):
            problems.add("display_name", "A client needs a name.")
    problems.raise_any()

    for key in (
        *TEXT_FIELDS,
        "manager_id",
        "ad_channel_id",
        "birthday",
        "tags",
        "region",
        "time_zone",
    ):
        if key in changes:
            setattr(contact, key, changes[key])
    contact.status = status
    contact.refusal_reason_id = reason if status == ContactStatus.REFUSED else None
    if "company_id" in changes or "company" in changes:
        contact.company_id = await _company_id(session, changes)
    if "custom_fields" in changes:
        merged = dict(contact.custom_fields or {})
        for key, value in changes["custom_fields"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.custom_fields = merged
    if creating:
        session.add(contact)
    await session.flush()
    if "phones" in changes:
        await _replace_phones(session, contact.id, changes["phones"])
        await _claim_calls(session, contact, [e164 for _, e164 in changes["phones"]])
    if "emails" in changes:
        await _replace_emails(session, contact.id, changes["emails"])
    await fill_from_first_phone(session, contact)
    if not creating and (contact.status, contact.refusal_reason_id) != (old_status, old_reason):
        await _status_changed(session, contact, old_status, actor)


async def _check_against_database(
    session: AsyncSession, contact: Contact, changes: dict[str, Any], problems: Problems
) -> None:
    if changes.get("manager_id") is not None:
        active = await session.scalar(
            select(User.is_active).where(User.id == changes["manager_id"])
        )
        if not active:
            problems.add("manager_id", "No such active user.")
    if changes.get("refusal_reason_id") is not None:
        reason = await session.get(RefusalReason, changes["refusal_reason_id"])
        if reason is None or (not reason.is_active and reason.id != contact.refusal_reason_id):
            problems.add("refusal_reason_id", "No such refusal reason.")
    if changes.get("ad_channel_id") is not None:
        channel = await session.get(AdChannel, changes["ad_channel_id"])
        if channel is None or (not channel.is_active and channel.id != contact.ad_channel_id):
            problems.add("ad_channel_id", "No such ad channel.")
    if changes.get("company_id") is not None and (
        await session.get(Company, changes["company_id"]) is None
    ):
        problems.add("company_id", "No such company.")
    # a number or address of someone else's is named with its owner, so the operator
    # can open that card instead of creating a duplicate
    if changes.get("phones"):
        owners = await session.execute(
            select(ContactPhone.e164, Contact)
            .join(Contact, Contact.id == ContactPhone.contact_id)
            .where(
                ContactPhone.e164.in_([e164 for _, e164 in changes["phones"]]),
                ContactPhone.contact_id != contact.id,
            )
            .limit(1)
        )
        for e164, owner in owners:
            problems.add("phones", _TAKEN, value=e164, client=_who(owner))
    if changes.get("emails"):
        owners = await session.execute(
            select(ContactEmail.email, Contact)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(ContactEmail.email.in_(changes["emails"]), ContactEmail.contact_id != contact.id)
            .limit(1)
        )
        for email, owner in owners:
            problems.add("emails", _TAKEN, value=email, client=_who(owner))


_TAKEN = "%(value)s already belongs to %(client)s."


def _who(contact: Contact) -> str:
    return f"{contact_name(contact)} (#{contact.id})"


async def _company_id(session: AsyncSession, changes: dict[str, Any]) -> int | None:
    if changes.get("company_id") is not None:
        company_id: int = changes["company_id"]
        return company_id
    name = changes.get("company")
    if not name:
        return None
    existing = await session.scalar(select(Company.id).where(Company.name == name).limit(1))
    if existing is not None:
        return existing
    company = Company(name=name)
    session.add(company)
    await session.flush()
    return company.id


async def _replace_phones(
    session: AsyncSession, contact_id: int, phones: list[tuple[str, str]]
) -> None:
    """Keep the numbers still listed (with their kind), drop the rest, add the new ones."""
    wanted = {e164: raw for raw, e164 in phones}
    kept = set(
        await session.scalars(
            select(ContactPhone.e164).where(
                ContactPhone.contact_id == contact_id, ContactPhone.e164.in_(list(wanted))
            )
        )
    )
    await session.execute(
        delete(ContactPhone).where(
            ContactPhone.contact_id == contact_id, ContactPhone.e164.not_in(list(wanted))
        )
    )
    session.add_all(
        ContactPhone(contact_id=contact_id, raw=raw, e164=e164)
        for e164, raw in wanted.items()
        if e164 not in kept
    )
    await session.flush()


async def _claim_calls(session: AsyncSession, contact: Contact, numbers: list[str]) -> None:
    """Calls from these numbers logged while the caller was unknown become the client's.

    The call log puts a call on a client's timeline when it ends; a call that ended
    before its number was given to anyone is put there now.
    """
    if not numbers:
        return
    claimed = await session.execute(
        update(Call)
        .where(Call.caller_e164.in_(numbers), Call.contact_id.is_(None))
        .values(contact_id=contact.id)
        .returning(Call.id, Call.started_at, Call.direction, Call.result, Call.ended_at)
        .execution_options(synchronize_session=False)
    )
    for call_id, started_at, direction, result, ended_at in claimed:
        if ended_at is not None:
            session.add(
                Interaction(
                    contact_id=contact.id,
                    company_id=contact.company_id,
                    kind=InteractionKind.CALL.value,
                    occurred_at=started_at,
                    call_id=call_id,
                    summary=f"{direction}: {result}",
                    payload={"direction": direction, "result": result},
                )
            )
    await session.flush()


async def _replace_emails(session: AsyncSession, contact_id: int, emails: list[str]) -> None:
    kept = set(
        await session.scalars(
            select(ContactEmail.email).where(
                ContactEmail.contact_id == contact_id, ContactEmail.email.in_(emails)
            )
        )
    )
    await session.execute(
        delete(ContactEmail).where(
            ContactEmail.contact_id == contact_id, ContactEmail.email.not_in(emails)
        )
    )
    session.add_all(
        ContactEmail(contact_id=contact_id, email=email) for email in emails if email not in kept
    )
    await session.flush()


async def _status_changed(
    session: AsyncSession, contact: Contact, old_status: str, actor: User
) -> None:
    reason = None
    if contact.refusal_reason_id is not None:
        reason = await session.scalar(
            select(RefusalReason.name).where(RefusalReason.id == contact.refusal_reason_id)
        )
    session.add(
        Interaction(
            contact_id=contact.id,
            company_id=contact.company_id,
            kind=InteractionKind.STATUS_CHANGE.value,
            author_id=actor.id,
            summary=f"{old_status} → {contact.status}" + (f" ({reason})" if reason else ""),
            payload={"from": old_status, "to": contact.status, "refusal_reason": reason},
        )
    )
    await session.flush()
