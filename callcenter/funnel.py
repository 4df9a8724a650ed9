"""The sales funnel: opening deals and moving them from stage to stage.

Every move is kept twice: as a ``DealStageChange`` (who, when, from, to) for the
deal's own history, and as a ``deal_change`` entry on the client's timeline. A lost
stage needs a refusal reason; a won deal schedules one "how was it?" call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import center_settings
from callcenter.access import may_see_contact
from callcenter.models import (
    Company,
    Contact,
    ContactStatus,
    Deal,
    DealStageChange,
    Interaction,
    InteractionKind,
    PipelineStage,
    RefusalReason,
    Role,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from callcenter.notify import Notifier
from callcenter.tasks import NewTask, add_task, announce, task_payload

MAX_TITLE = 200
MAX_AMOUNT = Decimal("999999999999.99")  # numeric(14, 2)
FOLLOW_UP_TITLE = "Как всё прошло?"
# the follow-up call lands in the assignee's morning, not at the minute the deal was won
FOLLOW_UP_LOCAL_TIME = time(11, 0)
# an operator opens deals for themselves; the team's leaders hand them out
GIVE_DEALS_TO_OTHERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


class FunnelError(ValueError):
    """The request is wrong; nothing was changed. Messages are English message ids."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


@dataclass(frozen=True)
class NewDeal:
    title: str
    contact_id: int | None = None
    company_id: int | None = None
    amount: Decimal | None = None
    currency: str = "RUB"
    owner_id: int | None = None  # None: whoever opens the deal
    stage_id: int | None = None  # None: the first active open stage


@dataclass(frozen=True)
class StageMove:
    stage_id: int
    refusal_reason_id: int | None = None


@dataclass(frozen=True)
class MoveResult:
    deal: Deal
    moved: bool
    follow_up: Task | None = None


def _id(raw: Any) -> int | None:
    """An id from a form (text) or JSON (a number); None when absent, -1 when malformed."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return -1
    if isinstance(raw, int):
        return raw if raw > 0 else -1
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 18:
        return int(raw.strip())
    return -1


def _amount(raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidOperation
    # "12 500,50" as Russians type it
    text = str(raw).replace(" ", "").replace("\u00a0", "").replace(",", ".")
    value = Decimal(text)
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT or value != round(value, 2):
        raise InvalidOperation
    return value


def read_new_deal(raw: Mapping[str, Any]) -> NewDeal:
    """A new deal from a form or a JSON object, every wrong field named at once."""
    fields: dict[str, str] = {}
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        fields["title"] = "Give the deal a title."
    elif len(title.strip()) > MAX_TITLE:
        fields["title"] = "The title is too long."
    ids: dict[str, int | None] = {}
    for name in ("contact_id", "company_id", "owner_id", "stage_id"):
        ids[name] = _id(raw.get(name))
        if ids[name] == -1:
            fields[name] = "Not a valid choice."
    if ids["contact_id"] is None and ids["company_id"] is None and "contact_id" not in fields:
        fields["contact_id"] = "Choose a client or a company."
    amount = None
    try:
        amount = _amount(raw.get("amount"))
    except (InvalidOperation, ValueError):
        fields["amount"] = "Enter an amount of money, for example 12500.50."
    currency = raw.get("currency") or "RUB"
    if not isinstance(currency, str) or not (
        len(currency.strip()) == 3 and currency.strip().isalpha() and currency.strip().isascii()
    ):
        fields["currency"] = "A three-letter currency code, for example RUB."
        currency = "RUB"
    if fields:
        raise FunnelError("The deal was not saved: check the marked fields.", fields)
    assert isinstance(title, str)
    return NewDeal(
        title=" ".join(title.split()),
        contact_id=ids["contact_id"],
        company_id=ids["company_id"],
        amount=amount,
        currency=currency.strip().upper(),
        owner_id=ids["owner_id"],
        stage_id=ids["stage_id"],
    )


def read_stage_move(raw: Mapping[str, Any]) -> StageMove:
    stage_id = _id(raw.get("stage_id"))
    reason_id = _id(raw.get("refusal_reason_id"))
    fields: dict[str, str] = {}
    if stage_id is None or stage_id == -1:
        fields["stage_id"] = "Choose a stage."
    if reason_id == -1:
        fields["refusal_reason_id"] = "Not a valid choice."
    if fields:
        raise FunnelError("The deal was not moved: check the marked fields.", fields)
    assert stage_id is not None
    return StageMove(stage_id, reason_id)


async def first_open_stage(session: AsyncSession) -> PipelineStage | None:
    return await session.scalar(
        select(PipelineStage)
        .where(PipelineStage.is_active, ~PipelineStage.is_won, ~PipelineStage.is_lost)
        .order_by(PipelineStage.position, PipelineStage.id)
        .limit(1)
    )


async def create_deal(session: AsyncSession, new: NewDeal, by: User) -> Deal:
    """The deal, flushed, with its first history entry; the caller commits."""
    fields: dict[str, str] = {}
    contact = await session.get(Contact, new.contact_id) if new.contact_id else None
    if new.contact_id and (contact is None or not await may_see_contact(session, by, contact)):
        fields["contact_id"] = "No such client."
    if new.owner_id not in (None, by.id) and by.role not in GIVE_DEALS_TO_OTHERS:
        fields["owner_id"] = "Only a supervisor, manager or admin gives deals to others."
    company_id = new.company_id
    if company_id is not None and await session.get(Company, company_id) is None:
        fields["company_id"] = "No such company."
    if company_id is None and contact is not None:
        company_id = contact.company_id
    owner_id = new.owner_id if new.owner_id is not None else by.id
    owner = await session.get(User, owner_id)
    if owner is None or not owner.is_active:
        fields["owner_id"] = "No such active user."
    if new.stage_id is None:
        stage = await first_open_stage(session)
        if stage is None:
            fields["stage_id"] = "There is no active open stage: an admin must add one."
    else:
        stage = await session.get(PipelineStage, new.stage_id)
        if stage is None or not stage.is_active:
            fields["stage_id"] = "No such active stage."
        elif stage.is_won or stage.is_lost:
            fields["stage_id"] = "A new deal starts in an open stage."
    if fields:
        raise FunnelError("The deal was not saved: check the marked fields.", fields)
    assert stage is not None
    deal = Deal(
        contact_id=new.contact_id,
        company_id=company_id,
        title=new.title,
        amount=new.amount,
        currency=new.currency,
        stage_id=stage.id,
        stage_is_lost=False,
        owner_id=owner_id,
    )
    session.add(deal)
    await session.flush()
    session.add(DealStageChange(deal_id=deal.id, to_stage_id=stage.id, changed_by_id=by.id))
    if deal.contact_id is not None:
        session.add(
            Interaction(
                contact_id=deal.contact_id,
                company_id=deal.company_id,
                kind=InteractionKind.DEAL_CHANGE.value,
                author_id=by.id,
                deal_id=deal.id,
                summary=f"{deal.title}: {stage.name}",
                payload={"from": None, "to": stage.name, "reason": None},
            )
        )
    await session.flush()
    return deal


async def move_deal(
    session: AsyncSession,
    deal_id: int,
    move: StageMove,
    by: User,
    now: datetime | None = None,
) -> MoveResult:
    """Put the deal in a stage; the caller commits, then announces ``follow_up``.

    The deal row is locked, so two people winning it at once schedule one call.
    """
    deal = await session.scalar(select(Deal).where(Deal.id == deal_id).with_for_update())
    if deal is None:
        raise FunnelError("No such deal.")
    stage = await session.get(PipelineStage, move.stage_id)
    if stage is None or not stage.is_active:
        raise FunnelError("No such active stage.", {"stage_id": "No such active stage."})
    if stage.id == deal.stage_id:
        return MoveResult(deal, moved=False)
    reason: RefusalReason | None = None
    if stage.is_lost:
        if move.refusal_reason_id is None:
            raise FunnelError(
                "A refused deal needs a reason.",
                {"refusal_reason_id": "Choose why the client refused."},
            )
        reason = await session.get(RefusalReason, move.refusal_reason_id)
        if reason is None or not reason.is_active:
            raise FunnelError(
                "A refused deal needs a reason.",
                {"refusal_reason_id": "No such refusal reason."},
            )
    now = now or datetime.now(UTC)
    previous = await session.get(PipelineStage, deal.stage_id)
    assert previous is not None  # a foreign key
    deal.stage_id = stage.id
    deal.stage_is_lost = stage.is_lost
    deal.refusal_reason_id = reason.id if reason else None
    if stage.is_won or stage.is_lost:
        # a move between two closing stages keeps the first closing time
        if deal.closed_at is None or not (previous.is_won or previous.is_lost):
            deal.closed_at = now
    else:
        deal.closed_at = None
    session.add(
        DealStageChange(
            deal_id=deal.id,
            from_stage_id=previous.id,
            to_stage_id=stage.id,
            changed_by_id=by.id,
            changed_at=now,
        )
    )
    contact = await session.get(Contact, deal.contact_id) if deal.contact_id else None
    if contact is not None:
        session.add(
            Interaction(
                contact_id=contact.id,
                company_id=deal.company_id,
                kind=InteractionKind.DEAL_CHANGE.value,
                occurred_at=now,
                author_id=by.id,
                deal_id=deal.id,
                summary=f"{deal.title}: {previous.name} → {stage.name}"
                + (f" ({reason.name})" if reason else ""),
                payload={
                    "from": previous.name,
                    "to": stage.name,
                    "reason": reason.name if reason else None,
                },
            )
        )
        if stage.is_won and contact.status == ContactStatus.LEAD.value:
            contact.status = ContactStatus.CLIENT.value
    await session.flush()
    follow_up = None
    if stage.is_won:
        follow_up = await _schedule_follow_up(session, deal, contact, by, now)
    return MoveResult(deal, moved=True, follow_up=follow_up)


async def _schedule_follow_up(
    session: AsyncSession, deal: Deal, contact: Contact | None, by: User, now: datetime
) -> Task | None:
    """One "how was it?" call per deal, however often it is won again."""
    already = await session.scalar(
        select(Task.id).where(
            Task.deal_id == deal.id,
            Task.kind == TaskKind.FOLLOW_UP.value,
            Task.status != TaskStatus.CANCELLED.value,
        )
    )
    if already is not None:
        return None
    days = (await center_settings.load(session)).follow_up_days
    assignee_id = deal.owner_id or (contact.manager_id if contact else None)
    assignee = await session.get(User, assignee_id) if assignee_id else None
    return await add_task(
        session,
        NewTask(
            kind=TaskKind.FOLLOW_UP,
            title=FOLLOW_UP_TITLE,
            assignee_id=assignee_id,
            contact_id=deal.contact_id,
            deal_id=deal.id,
            due_at=follow_up_time(now, days, assignee.time_zone if assignee else None),
            notes=f"Сделка «{deal.title}»",
            created_by_id=by.id,
        ),
    )


def follow_up_time(won_at: datetime, days: int, time_zone: str | None) -> datetime:
    """``days`` calendar days after the win, at a morning hour of the assignee's zone."""
    try:
        zone = ZoneInfo(time_zone or "Europe/Moscow")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Europe/Moscow")
    day = won_at.astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, FOLLOW_UP_LOCAL_TIME, tzinfo=zone).astimezone(UTC)


async def move_and_announce(
    session: AsyncSession,
    notifier: Notifier,
    deal_id: int,
    move: StageMove,
    by: User,
) -> MoveResult:
    """``move_deal``, committed; the follow-up's assignee hears of it only after the commit."""
    result = await move_deal(session, deal_id, move, by)
    await session.commit()
    if result.follow_up is not None:
        announce(notifier, await task_payload(session, result.follow_up))
    return result
