"""Web-form leads: a form on a website becomes a contact, a timeline entry and a callback
task for a manager, who hears of it live.

The contact is the existing one when the phone (in any format) or the e-mail is known,
else a new lead. The lead's channel comes from its UTM tags, else from its site; a
contact keeps the first channel it ever got. The task goes to the contact's personal
manager, else in turn to the managers on duty: the one whose last web lead is oldest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import ad_channels, web_form_sites
from callcenter.contact_geography import fill_from_first_phone
from callcenter.lookup import contact_name
from callcenter.models import (
    AdChannel,
    Contact,
    ContactEmail,
    ContactPhone,
    Interaction,
    InteractionKind,
    Role,
    Task,
    TaskKind,
    TrackingNumber,
    User,
    WebFormSite,
)
from callcenter.notify import Notifier
from callcenter.phones import to_e164
from callcenter.tasks import NewTask, add_task, announce, task_payload

LIMITS = {
    "name": 200,
    "phone": 50,
    "email": 254,
    "message": 4000,
    "page": 2000,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
    "utm_content": 200,
    "utm_term": 200,
}
# what forms call the same thing; the first name is the one stored
_ALIASES = {"message": ("message", "comment"), "page": ("page", "page_url")}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# one lead at a time: two leads must not pick the same "next" manager, nor both create
# a contact for the same new phone (pg_advisory_xact_lock key, "WEBL")
_LEAD_LOCK = 0x5745424C
_MAX_MERGE_HOPS = 3
DEMO_SITE = "demo.example.ru"


class LeadError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class WebLead:
    name: str | None = None
    phone: str | None = None
    e164: str | None = None
    email: str | None = None  # lower-cased
    message: str | None = None
    page: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None

    def utm(self) -> dict[str, str]:
        tags = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
        return {tag: value for tag in tags if (value := getattr(self, tag))}


@dataclass(frozen=True)
class LeadOutcome:
    contact_id: int
    task_id: int
    new_contact: bool
    assignee_id: int | None
    ad_channel_id: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "contact_id": self.contact_id,
            "task_id": self.task_id,
            "new_contact": self.new_contact,
        }


def _field(fields: Mapping[str, object], name: str, errors: dict[str, str]) -> str | None:
    raw: object = None
    for alias in _ALIASES.get(name, (name,)):
        raw = fields.get(alias)
        if raw not in (None, ""):
            break
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and name == "phone":
        raw = str(raw)  # a JSON client may send the number as a number
    if not isinstance(raw, str):
        errors[name] = "expected text"
        return None
    value = raw.strip()
    if len(value) > LIMITS[name]:
        errors[name] = f"at most {LIMITS[name]} characters"
    elif "\x00" in value:
        errors[name] = "contains a NUL character"  # PostgreSQL text cannot hold it
    return value or None


def parse_lead(fields: Mapping[str, object], region: str) -> WebLead:
    """A checked lead, or ``LeadError`` naming every bad field."""
    errors: dict[str, str] = {}
    values = {name: _field(fields, name, errors) for name in LIMITS}
    phone, email, page = values["phone"], values["email"], values["page"]
    e164 = None
    if phone and "phone" not in errors:
        e164 = to_e164(phone, region)
        if e164 is None:
            errors["phone"] = "not a phone number"
    if email and "email" not in errors:
        if _EMAIL.match(email):
            values["email"] = email.lower()
        else:
            errors["email"] = "not an e-mail address"
    if not phone and not email and not ({"phone", "email"} & errors.keys()):
        errors["phone"] = errors["email"] = "give a phone or an e-mail"
    if page and "page" not in errors and not page.lower().startswith(("http://", "https://")):
        errors["page"] = "expected an http(s) address"
    if errors:
        raise LeadError(errors)
    return WebLead(e164=e164, **values)


async def _find_contact(session: AsyncSession, lead: WebLead) -> Contact | None:
    contact_id = None
    if lead.e164:
        contact_id = await session.scalar(
            select(ContactPhone.contact_id).where(ContactPhone.e164 == lead.e164)
        )
    if contact_id is None and lead.email:
        contact_id = await session.scalar(
            select(ContactEmail.contact_id).where(ContactEmail.email == lead.email)
        )
    contact = await session.get(Contact, contact_id) if contact_id is not None else None
    # a merged-away duplicate forwards to the contact that is kept
    for _ in range(_MAX_MERGE_HOPS):
        if contact is None or contact.merged_into_id is None:
            break
        contact = await session.get(Contact, contact.merged_into_id)
    return contact


async def _add_missing_details(session: AsyncSession, contact: Contact, lead: WebLead) -> None:
    """A known client who left a new phone or e-mail: keep it, unless another client has it."""
    if lead.e164 and lead.phone:
        taken = await session.scalar(select(ContactPhone.id).where(ContactPhone.e164 == lead.e164))
        if taken is None:
            session.add(ContactPhone(contact_id=contact.id, raw=lead.phone, e164=lead.e164))
    if lead.email:
        taken = await session.scalar(
            select(ContactEmail.id).where(ContactEmail.email == lead.email)
        )
        if taken is None:
            session.add(ContactEmail(contact_id=contact.id, email=lead.email))
    await session.flush()


async def _next_manager(session: AsyncSession, contact: Contact) -> int | None:
    """The personal manager, else the manager on duty who got a web lead longest ago."""
    if contact.manager_id is not None:
        active = await session.scalar(select(User.is_active).where(User.id == contact.manager_id))
        if active:
            return contact.manager_id
    last_lead = (
        select(func.max(Interaction.id))
        .join(Task, Task.id == Interaction.task_id)
        .where(Interaction.kind == InteractionKind.WEB_FORM.value, Task.assignee_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    manager_id: int | None = await session.scalar(
        select(User.id)
        .where(User.role == Role.MANAGER.value, User.is_active, User.is_on_duty)
        .order_by(func.coalesce(last_lead, 0), User.id)
        .limit(1)
    )
    return manager_id


async def take_lead(
    session: AsyncSession, site: WebFormSite, lead: WebLead, now: datetime | None = None
) -> tuple[LeadOutcome, Task]:
    """Everything a lead changes, in the caller's transaction; the caller commits, then
    announces the task."""
    now = now or datetime.now(UTC)
    await session.execute(select(func.pg_advisory_xact_lock(_LEAD_LOCK)))
    contact = await _find_contact(session, lead)
    new_contact = contact is None
    if contact is None:
        contact = Contact(display_name=lead.name or lead.email or lead.phone, status="lead")
        session.add(contact)
        await session.flush()
    await _add_missing_details(session, contact, lead)
    await fill_from_first_phone(session, contact)
    channel = await ad_channels.channel_for_utm(
        session, lead.utm_source, lead.utm_medium, lead.utm_campaign
    )
    channel_id = channel.id if channel else site.ad_channel_id
    await ad_channels.set_first_channel(session, contact.id, channel_id)
    entry = Interaction(
        contact_id=contact.id,
        kind=InteractionKind.WEB_FORM.value,
        occurred_at=now,
        summary=(lead.message or f"Заявка с сайта {site.name}")[:300],
        payload={
            "site_id": site.id,
            "site": site.name,
            "ad_channel_id": channel_id,
            "utm": lead.utm(),
            "page": lead.page,
            "message": lead.message,
            "name": lead.name,
            "phone": lead.phone,
            "email": lead.email,
        },
    )
    session.add(entry)
    await session.flush()
    who = lead.name or contact_name(contact)
    task = await add_task(
        session,
        NewTask(
            kind=TaskKind.CALLBACK,
            title=f"Заявка с сайта {site.name}: {who}",
            assignee_id=await _next_manager(session, contact),
            contact_id=contact.id,
            due_at=now,
            notes=lead.message,
            previous_interaction_id=entry.id,
        ),
    )
    entry.task_id = task.id
    await session.flush()
    outcome = LeadOutcome(contact.id, task.id, new_contact, task.assignee_id, channel_id)
    return outcome, task


async def receive_lead(
    db: async_sessionmaker[AsyncSession], notifier: Notifier, site_id: int, lead: WebLead
) -> LeadOutcome:
    """Store the lead, commit, then tell the manager (never about a lead rolled back)."""
    async with db() as session:
        site = await session.get(WebFormSite, site_id)
        if site is None:
            raise LeadError({"token": "unknown site"})
        outcome, task = await take_lead(session, site, lead)
        await session.commit()
        announce(notifier, await task_payload(session, task))
    return outcome


async def demo_web_forms(session: AsyncSession) -> str:
    """The demo's web-form site and channels (kept when the demo data has them already);
    returns the site's token, a new one on every call: only its hash is kept."""
    channels = {}
    for name, source, medium in (("Сайт", None, None), ("Яндекс.Директ", "yandex", "cpc")):
        channel = await session.scalar(select(AdChannel).where(AdChannel.name == name))
        if channel is None:
            channel = AdChannel(name=name)
            session.add(channel)
        if source and not (channel.utm_source or channel.utm_medium or channel.utm_campaign):
            channel.utm_source, channel.utm_medium = source, medium
        await session.flush()
        channels[name] = channel.id
    did = "+74951112233"  # one of the numbers the sandbox's simulated callers dial
    known = await session.scalar(select(TrackingNumber.id).where(TrackingNumber.did_e164 == did))
    if known is None:
        session.add(TrackingNumber(did_e164=did, ad_channel_id=channels["Яндекс.Директ"]))
    site = await session.scalar(select(WebFormSite).where(WebFormSite.name == DEMO_SITE))
    if site is None:
        _, token = await web_form_sites.add_site(session, DEMO_SITE, channels["Сайт"])
    else:
        _, token = await web_form_sites.rotate_token(session, site.id)
    await session.flush()
    return token
