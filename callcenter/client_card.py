"""The client card: one contact with everything known about them, for the card page and API.

The screen-pop has its own one-query card (``callcenter.lookup``) because it races the
ringing phone; this one is read when someone opens a client, so it favours clarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from callcenter.lookup import contact_name
from callcenter.models import (
    AdChannel,
    Company,
    Contact,
    CustomFieldDefinition,
    CustomFieldEntity,
    Deal,
    PipelineStage,
    RefusalReason,
    Task,
    TaskStatus,
    User,
)
from callcenter.time_zones import is_time_zone

# a merge chain is short: each merge points the duplicates of B at A as well
_MAX_MERGE_HOPS = 5


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str


@dataclass(frozen=True)
class CustomFieldShown:
    key: str
    label_ru: str
    label_en: str | None
    value_type: str
    choices: tuple[Any, ...]
    value: Any

    def label(self, language: str) -> str:
        return (self.label_en or self.label_ru) if language == "en" else self.label_ru


@dataclass(frozen=True)
class TaskRef:
    id: int
    kind: str
    title: str
    due_at: datetime | None
    assignee_name: str | None


@dataclass(frozen=True)
class DealRef:
    id: int
    title: str
    stage: str
    amount: Decimal | None
    currency: str
    is_open: bool


@dataclass(frozen=True)
class ClientCard:
    contact: Contact  # with phones and e-mails loaded
    name: str
    company: Company | None
    colleagues: tuple[PersonRef, ...]  # the company's other contact persons
    manager_name: str | None
    refusal_reason: str | None
    ad_channel: str | None
    custom_fields: tuple[CustomFieldShown, ...]
    open_tasks: tuple[TaskRef, ...]
    deals: tuple[DealRef, ...]

    def local_now(self, now: datetime | None = None) -> datetime | None:
        """The client's wall-clock time (worth a look before calling), when their zone is known."""
        zone = self.contact.time_zone
        if not zone or not is_time_zone(zone):
            return None
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone))

    def as_json(self) -> dict[str, Any]:
        c = self.contact
        return {
            "id": c.id,
            "name": self.name,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "middle_name": c.middle_name,
            "display_name": c.display_name,
            "position": c.position,
            "company": None
            if self.company is None
            else {"id": self.company.id, "name": self.company.name},
            "colleagues": [{"id": p.id, "name": p.name} for p in self.colleagues],
            "phones": [{"e164": p.e164, "raw": p.raw, "kind": p.kind} for p in c.phones],
            "emails": [e.email for e in c.emails],
            "birthday": _iso(c.birthday),
            "manager": None
            if c.manager_id is None
            else {"id": c.manager_id, "name": self.manager_name},
            "status": c.status,
            "refusal_reason": None
            if c.refusal_reason_id is None
            else {"id": c.refusal_reason_id, "name": self.refusal_reason},
            "ad_channel": None
            if c.ad_channel_id is None
            else {"id": c.ad_channel_id, "name": self.ad_channel},
            "tags": list(c.tags),
            "region": c.region,
            "time_zone": c.time_zone,
            "local_time": _iso(self.local_now()),
            "custom_fields": [
                {
                    "key": f.key,
                    "label_ru": f.label_ru,
                    "label_en": f.label_en,
                    "type": f.value_type,
                    "value": f.value,
                }
                for f in self.custom_fields
            ],
            "open_tasks": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "title": t.title,
                    "due_at": _iso(t.due_at),
                    "assignee": t.assignee_name,
                }
                for t in self.open_tasks
            ],
            "deals": [
                {
                    "id": d.id,
                    "title": d.title,
                    "stage": d.stage,
                    "amount": None if d.amount is None else str(d.amount),
                    "currency": d.currency,
                    "open": d.is_open,
                }
                for d in self.deals
            ],
            "created_at": _iso(c.created_at),
        }


def _iso(moment: date | None) -> str | None:
    return moment.isoformat() if moment else None


async def survivor_id(session: AsyncSession, contact_id: int) -> int | None:
    """The contact itself, or the one it was merged into; None when there is no such contact."""
    current = contact_id
    for _ in range(_MAX_MERGE_HOPS):
        merged_into = (
            await session.execute(select(Contact.merged_into_id).where(Contact.id == current))
        ).one_or_none()
        if merged_into is None:
            return None
        if merged_into[0] is None:
            return current
        current = merged_into[0]
    return current


async def contact_definitions(
    session: AsyncSession, *, active_only: bool = True
) -> list[CustomFieldDefinition]:
    """The admin-defined fields of contacts, in their display order."""
    return await field_definitions(session, CustomFieldEntity.CONTACT, active_only=active_only)


async def field_definitions(
    session: AsyncSession, entity: CustomFieldEntity, *, active_only: bool = True
) -> list[CustomFieldDefinition]:
    """The admin-defined fields of contacts or of companies, in their display order."""
    query = select(CustomFieldDefinition).where(CustomFieldDefinition.entity == entity.value)
    if active_only:
        query = query.where(CustomFieldDefinition.is_active.is_(True))
    query = query.order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
    return list(await session.scalars(query))


async def load_card(
    session: AsyncSession, contact_id: int, visible: ColumnElement[bool]
) -> ClientCard | None:
    """The card of one contact; ``visible`` (callcenter.access) filters the colleagues shown."""
    contact = await session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .options(selectinload(Contact.phones), selectinload(Contact.emails))
        .execution_options(populate_existing=True)
    )
    if contact is None:
        return None
    contact.phones.sort(key=lambda p: p.id)
    contact.emails.sort(key=lambda e: e.id)
    company = await session.get(Company, contact.company_id) if contact.company_id else None
    colleagues: list[PersonRef] = []
    if company is not None:
        rows = await session.scalars(
            select(Contact)
            .where(
                Contact.company_id == company.id,
                Contact.id != contact.id,
                Contact.merged_into_id.is_(None),
                visible,
            )
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
            .limit(50)
        )
        colleagues = [PersonRef(c.id, contact_name(c)) for c in rows]
    return ClientCard(
        contact=contact,
        name=contact_name(contact),
        company=company,
        colleagues=tuple(colleagues),
        manager_name=await _name_of(session, User.full_name, User.id, contact.manager_id),
        refusal_reason=await _name_of(
            session, RefusalReason.name, RefusalReason.id, contact.refusal_reason_id
        ),
        ad_channel=await _name_of(session, AdChannel.name, AdChannel.id, contact.ad_channel_id),
        custom_fields=await custom_fields_shown(
            session, CustomFieldEntity.CONTACT, contact.custom_fields
        ),
        open_tasks=await _open_tasks(session, contact.id),
        deals=await _deals(session, contact.id),
    )


async def _name_of(session: AsyncSession, column: Any, key: Any, value: int | None) -> str | None:
    if value is None:
        return None
    name: str | None = await session.scalar(select(column).where(key == value))
    return name


async def custom_fields_shown(
    session: AsyncSession, entity: CustomFieldEntity, values: dict[str, Any]
) -> tuple[CustomFieldShown, ...]:
    """The fields a card shows with their values."""
    # a retired field still shows while the card holds a value for it
    shown = []
    for definition in await field_definitions(session, entity, active_only=False):
        value = values.get(definition.key)
        if not definition.is_active and value is None:
            continue
        shown.append(
            CustomFieldShown(
                key=definition.key,
                label_ru=definition.label_ru,
                label_en=definition.label_en,
                value_type=definition.value_type,
                choices=tuple(definition.choices or ()),
                value=value,
            )
        )
    return tuple(shown)


async def _open_tasks(session: AsyncSession, contact_id: int) -> tuple[TaskRef, ...]:
    rows = await session.execute(
        select(Task, User.full_name)
        .outerjoin(User, User.id == Task.assignee_id)
        .where(Task.contact_id == contact_id, Task.status == TaskStatus.OPEN.value)
        .order_by(Task.due_at.asc().nulls_last(), Task.id)
        .limit(20)
    )
    return tuple(
        TaskRef(task.id, task.kind, task.title, task.due_at, assignee) for task, assignee in rows
    )


async def _deals(session: AsyncSession, contact_id: int) -> tuple[DealRef, ...]:
    rows = await session.execute(
        select(Deal, PipelineStage)
        .join(PipelineStage, PipelineStage.id == Deal.stage_id)
        .where(Deal.contact_id == contact_id)
        .order_by(Deal.id.desc())
        .limit(20)
    )
    return tuple(
        DealRef(
            deal.id,
            deal.title,
            stage.name,
            deal.amount,
            deal.currency,
            not (stage.is_won or stage.is_lost),
        )
        for deal, stage in rows
    )
