"""A company and its contact persons: the company card, and editing its own details.

A company's phones and e-mails are its contact persons' (each person keeps several);
the company itself holds what belongs to the firm: tax id, address, notes, personal
manager and the admin-defined company fields. Who sees which persons follows
``callcenter.access``: an operator limited to their own clients sees only theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.client_card import CustomFieldShown, custom_fields_shown, field_definitions
from callcenter.client_fields import MAX_NAME, MAX_TEXT, parse_custom_fields
from callcenter.form_errors import FormInvalid, Problems
from callcenter.lookup import contact_name
from callcenter.models import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
    CustomFieldEntity,
    User,
)

MAX_PERSONS = 500


@dataclass(frozen=True)
class Person:
    contact_id: int
    name: str
    position: str | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]


@dataclass(frozen=True)
class CompanyCard:
    company: Company
    manager_name: str | None
    persons: tuple[Person, ...]
    custom_fields: tuple[CustomFieldShown, ...]


async def company_definitions(session: AsyncSession) -> list[CustomFieldDefinition]:
    return await field_definitions(session, CustomFieldEntity.COMPANY)


async def load_company(
    session: AsyncSession, company_id: int, visible: ColumnElement[bool]
) -> CompanyCard | None:
    company = await session.get(Company, company_id)
    if company is None:
        return None
    contacts = list(
        await session.scalars(
            select(Contact)
            .where(Contact.company_id == company_id, Contact.merged_into_id.is_(None), visible)
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
            .limit(MAX_PERSONS)
        )
    )
    ids = [c.id for c in contacts]
    phones: dict[int, list[str]] = {i: [] for i in ids}
    emails: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for contact_id, e164 in await session.execute(
            select(ContactPhone.contact_id, ContactPhone.e164)
            .where(ContactPhone.contact_id.in_(ids))
            .order_by(ContactPhone.id)
        ):
            phones[contact_id].append(e164)
        for contact_id, email in await session.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.contact_id.in_(ids))
            .order_by(ContactEmail.id)
        ):
            emails[contact_id].append(email)
    manager = await session.get(User, company.manager_id) if company.manager_id else None
    return CompanyCard(
        company=company,
        manager_name=manager.full_name if manager else None,
        persons=tuple(
            Person(
                c.id,
                contact_name(c),
                c.position,
                tuple(phones[c.id]),
                tuple(emails[c.id]),
            )
            for c in contacts
        ),
        custom_fields=await custom_fields_shown(
            session, CustomFieldEntity.COMPANY, dict(company.custom_fields or {})
        ),
    )


def parse_company(body: object, definitions: Sequence[CustomFieldDefinition]) -> dict[str, Any]:
    """The company fields present in ``body``, checked; FormInvalid names every wrong one."""
    problems = Problems()
    if not isinstance(body, dict):
        raise FormInvalid({"body": "Expected a JSON object."})
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key == "custom_fields":
            changes[key] = parse_custom_fields(value, definitions, problems)
        elif key in ("name", "tax_id"):
            if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
                problems.add(key, "At most 200 characters.")
            else:
                changes[key] = " ".join((value or "").split()) or None
        elif key in ("address", "notes"):
            if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
                problems.add(
                    key, "Must be text of at most %(limit)s characters.", limit=str(MAX_TEXT)
                )
            else:
                changes[key] = (value or "").strip() or None
        elif key == "manager_id":
            if value in (None, ""):
                changes[key] = None
            elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 18:
                changes[key] = int(value)
            elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
                changes[key] = value
            else:
                problems.add(key, "Must be an id.")
        else:
            problems.add(str(key), "Unknown field.")
    if "name" in changes and changes["name"] is None:
        problems.add("name", "A company needs a name.")
    problems.raise_any()
    return changes


async def update_company(
    session: AsyncSession, company: Company, changes: dict[str, Any], user: User
) -> None:
    """Apply checked changes; a manager id must name an active staff member."""
    manager_id = changes.get("manager_id")
    if manager_id is not None:
        manager = await session.get(User, manager_id)
        if manager is None or not manager.is_active:
            raise FormInvalid({"manager_id": "No such active user."})
    before = {key: getattr(company, key) for key in changes}
    for key, value in changes.items():
        if key == "custom_fields":
            merged = dict(company.custom_fields or {}) | value
            company.custom_fields = {k: v for k, v in merged.items() if v is not None}
        else:
            setattr(company, key, value)
    await audit.record(
        session,
        user,
        "company.edit",
        "company",
        company.id,
        fields=sorted(changes),
        before={k: v for k, v in before.items() if k != "custom_fields"},
    )
    await session.flush()
