"""Reading deals for people: the board, a deal's card and its stage history.

An operator limited to their own clients (``callcenter.access``) sees the deals of
those clients only, plus deals with no client that they own themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.access import limited_to_own_clients
from callcenter.iso_time import iso
from callcenter.lookup import contact_name
from callcenter.models import (
    Company,
    Contact,
    Deal,
    DealStageChange,
    PipelineStage,
    RefusalReason,
    User,
)

MAX_DEALS = 500


@dataclass(frozen=True)
class DealCard:
    id: int
    title: str
    amount: Decimal | None
    currency: str
    stage_id: int
    stage_name: str
    is_won: bool
    is_lost: bool
    contact_id: int | None
    contact_name: str | None
    company_name: str | None
    owner_id: int | None
    owner_name: str | None
    refusal_reason: str | None
    created_at: datetime
    closed_at: datetime | None

    @property
    def amount_text(self) -> str:
        """12500.5 as "12 500.50": thousands apart with a no-break space."""
        return "" if self.amount is None else f"{self.amount:,.2f}".replace(",", "\u00a0")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "amount": None if self.amount is None else f"{self.amount:.2f}",
            "currency": self.currency,
            "stage": {"id": self.stage_id, "name": self.stage_name},
            "is_won": self.is_won,
            "is_lost": self.is_lost,
            "contact": None
            if self.contact_id is None
            else {"id": self.contact_id, "name": self.contact_name},
            "company_name": self.company_name,
            "owner": None
            if self.owner_id is None
            else {"id": self.owner_id, "name": self.owner_name},
            "refusal_reason": self.refusal_reason,
            "created_at": self.created_at.isoformat(),
            "closed_at": iso(self.closed_at),
        }


@dataclass(frozen=True)
class StageChangeRow:
    changed_at: datetime
    from_stage: str | None
    to_stage: str
    changed_by: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "changed_at": self.changed_at.isoformat(),
            "from": self.from_stage,
            "to": self.to_stage,
            "changed_by": self.changed_by,
        }


@dataclass(frozen=True)
class DealDetail:
    card: DealCard
    history: list[StageChangeRow]

    def as_json(self) -> dict[str, Any]:
        return {**self.card.as_json(), "history": [row.as_json() for row in self.history]}


def _cards_query() -> Select[Deal, PipelineStage, Contact, str, str, str]:
    owner = aliased(User)
    return (
        select(
            Deal,
            PipelineStage,
            Contact,
            Company.name,
            owner.full_name,
            RefusalReason.name,
        )
        .join(PipelineStage, PipelineStage.id == Deal.stage_id)
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(Company, Company.id == Deal.company_id)
        .outerjoin(owner, owner.id == Deal.owner_id)
        .outerjoin(RefusalReason, RefusalReason.id == Deal.refusal_reason_id)
    )


async def _visible(session: AsyncSession, user: User) -> ColumnElement[bool]:
    if not await limited_to_own_clients(session, user):
        return true()
    return or_(
        Contact.manager_id == user.id,
        and_(Deal.contact_id.is_(None), Deal.owner_id == user.id),
    )


def _card(row: Any) -> DealCard:
    deal, stage, contact, company, owner_name, reason = row
    return DealCard(
        id=deal.id,
        title=deal.title,
        amount=deal.amount,
        currency=deal.currency,
        stage_id=stage.id,
        stage_name=stage.name,
        is_won=stage.is_won,
        is_lost=stage.is_lost,
        contact_id=deal.contact_id,
        contact_name=contact_name(contact) if contact is not None else None,
        company_name=company,
        owner_id=deal.owner_id,
        owner_name=owner_name,
        refusal_reason=reason,
        created_at=deal.created_at,
        closed_at=deal.closed_at,
    )


async def list_deals(
    session: AsyncSession,
    user: User,
    *,
    stage_id: int | None = None,
    owner_id: int | None = None,
    contact_id: int | None = None,
    limit: int = MAX_DEALS,
) -> list[DealCard]:
    """The deals this user may see, most recently changed first."""
    query = _cards_query().where(await _visible(session, user))
    if stage_id is not None:
        query = query.where(Deal.stage_id == stage_id)
    if owner_id is not None:
        query = query.where(Deal.owner_id == owner_id)
    if contact_id is not None:
        query = query.where(Deal.contact_id == contact_id)
    query = query.order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(limit)
    return [_card(row) for row in await session.execute(query)]


async def deal_detail(session: AsyncSession, user: User, deal_id: int) -> DealDetail | None:
    """None for a deal that does not exist or that this user may not see."""
    query = _cards_query().where(Deal.id == deal_id, await _visible(session, user))
    row = (await session.execute(query)).first()
    if row is None:
        return None
    source, target, author = (
        aliased(PipelineStage),
        aliased(PipelineStage),
        aliased(User),
    )
    changes = await session.execute(
        select(DealStageChange.changed_at, source.name, target.name, author.full_name)
        .join(target, target.id == DealStageChange.to_stage_id)
        .outerjoin(source, source.id == DealStageChange.from_stage_id)
        .outerjoin(author, author.id == DealStageChange.changed_by_id)
        .where(DealStageChange.deal_id == deal_id)
        .order_by(DealStageChange.changed_at, DealStageChange.id)
    )
    history = [StageChangeRow(*change) for change in changes]
    return DealDetail(_card(row), history)


async def may_see_deal(session: AsyncSession, user: User, deal_id: int) -> bool:
    query = (
        select(Deal.id)
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .where(Deal.id == deal_id, await _visible(session, user))
    )
    return await session.scalar(query) is not None
