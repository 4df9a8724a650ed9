"""Creating clients: the quick form on an unknown caller's pop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import ad_channels
from callcenter.contact_geography import fill_from_first_phone
from callcenter.form_errors import FormInvalid
from callcenter.models import Company, Contact, ContactPhone
from callcenter.phones import to_e164

MAX_NAME = 200


class ClientError(FormInvalid):
    """The quick form is wrong; nothing was stored."""


@dataclass(frozen=True)
class QuickClient:
    name: str
    company: str
    phone: str


def parse_quick_client(body: object, region: str) -> QuickClient:
    if not isinstance(body, dict):
        raise ClientError({"body": "expected a JSON object"})
    errors: dict[str, str] = {}
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        errors["name"] = f"required, at most {MAX_NAME} characters"
    company = body.get("company") or ""
    if not isinstance(company, str) or len(company) > MAX_NAME:
        errors["company"] = f"at most {MAX_NAME} characters"
    phone = body.get("phone")
    if not isinstance(phone, str) or to_e164(phone, region) is None:
        errors["phone"] = "not a phone number"
    if errors:
        raise ClientError(errors)
    assert isinstance(name, str) and isinstance(phone, str)
    return QuickClient(name.strip(), str(company).strip(), phone.strip())


async def quick_add_client(session: AsyncSession, form: QuickClient, region: str) -> Contact:
    """A new lead with this phone (and company); the caller's number must be new."""
    e164 = to_e164(form.phone, region)
    assert e164 is not None  # checked by parse_quick_client
    if await session.scalar(select(ContactPhone.id).where(ContactPhone.e164 == e164)):
        raise ClientError({"phone": "this number already belongs to a client"})
    company_id = None
    if form.company:
        company_id = await session.scalar(select(Company.id).where(Company.name == form.company))
        if company_id is None:
            company = Company(name=form.company)
            session.add(company)
            await session.flush()
            company_id = company.id
    contact = Contact(display_name=form.name, company_id=company_id, status="lead")
    session.add(contact)
    await session.flush()
    session.add(ContactPhone(contact_id=contact.id, raw=form.phone, e164=e164))
    await session.flush()
    await fill_from_first_phone(session, contact)
    # the caller may have dialled a tracking number: the client's first channel
    channel_id = await ad_channels.channel_of_recent_call(session, e164, datetime.now(UTC))
    await ad_channels.set_first_channel(session, contact.id, channel_id)
    return contact
