"""Which leads the dialer calls next, and the last check before each call.

The order of work for every call (the engine's loop):

1. ``claim_next_leads`` takes due leads of a running campaign whose window is open,
   locks them (``FOR UPDATE SKIP LOCKED``) and marks them in progress by this dialer,
   all in one transaction: two dialers never hold the same lead.
2. ``prepare_originate`` (``check_before_originate`` + ``record_attempt`` in one short
   transaction, committed before the Originate goes out) checks once more what may
   have changed since: do-not-call, consent, window, campaign status, line caps. A
   lead that fails is released with the right status and the reason is returned.
   The pending attempt is stored before the Originate is sent, so a crash after
   sending leaves an attempt that recovery settles as unknown, never redialled.

A lead with an assigned operator (a callback the client agreed with them) is offered
only to that operator: it is claimed only while they are among ``ready_operators``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AttemptOutcome,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Consent,
    ConsentKind,
    Contact,
    ContactPhone,
    DoNotCall,
    Lead,
    LeadStatus,
)
from callcenter.time_zones import is_time_zone
from dialer.lines import MAX_LINES_OVERALL, lines_in_use, lock_lines
from dialer.windows import (
    CallingWindows,
    lead_zones,
    may_call_now,
    next_opening,
    number_zones,
    parse_windows,
)

# the lead's last result when its client asked to be called back (see results.py)
CALLBACK_REQUESTED = "callback"
# leads with no usable zone of their own are judged one by one in Python, at most this
# many a claim: a run of closed ones (mobiles, which share one verdict) hides an open
# lead behind it only past this depth. place_leads keeps the run to ambiguous numbers.
_UNPLACED_SCAN = 5000
# zones that mean something else on a Russian number (see windows._RUSSIAN_FIXES)
_PER_NUMBER_ZONES = ("Europe/Bucharest",)


class Hold(enum.StrEnum):
    """Why a claimed lead was not dialled."""

    NOT_OURS = "not_ours"  # released or taken over meanwhile: left alone
    CAMPAIGN_NOT_RUNNING = "campaign_not_running"
    DO_NOT_CALL = "do_not_call"
    NO_CONSENT = "no_consent"
    OUTSIDE_WINDOW = "outside_window"
    LINES_BUSY = "lines_busy"


@dataclass(frozen=True)
class Refusal:
    reason: Hold


def _dialable(campaign_id: int, now: datetime, ready_operators: Collection[int]) -> Any:
    return and_(
        Lead.campaign_id == campaign_id,
        Campaign.status == CampaignStatus.RUNNING,
        Lead.status.in_([LeadStatus.NEW, LeadStatus.CALLBACK]),
        Lead.locked_by.is_(None),
        or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= now),
        Lead.attempts < Campaign.max_attempts,
        or_(Lead.assigned_user_id.is_(None), Lead.assigned_user_id.in_(list(ready_operators))),
    )


def _priority(lead: Lead) -> tuple[int, int, int]:
    """Callbacks due first, then the fewest attempts, then the oldest."""
    return (0 if lead.status == LeadStatus.CALLBACK else 1, lead.attempts, lead.id)


_PRIORITY_SQL = (
    case((Lead.status == LeadStatus.CALLBACK, 0), else_=1),
    Lead.attempts,
    Lead.id,
)


def _windows(campaign: Campaign) -> CallingWindows | None:
    """None when the stored windows are broken: such a campaign dials nobody."""
    try:
        return parse_windows(campaign.calling_windows)
    except FormInvalid:
        return None


async def claim_next_leads(
    session: AsyncSession,
    campaign: Campaign,
    limit: int,
    now: datetime,
    dialer_id: str,
    *,
    ready_operators: Collection[int] = (),
) -> list[Lead]:
    """Up to ``limit`` leads to call now, locked by ``dialer_id``; commit to keep the claim."""
    windows = _windows(campaign)
    if limit <= 0 or windows is None:
        return []
    dialable = _dialable(campaign.id, now, ready_operators)
    from_leads = select(Lead).join(Campaign, Campaign.id == Lead.campaign_id)

    zones = await session.scalars(
        select(Lead.time_zone)
        .join(Campaign, Campaign.id == Lead.campaign_id)
        .where(dialable, Lead.time_zone.is_not(None))
        .distinct()
    )
    open_zones, per_number = [], list(_PER_NUMBER_ZONES)
    for zone in zones:
        if zone is None or zone in _PER_NUMBER_ZONES:
            continue
        if not is_time_zone(zone):
            per_number.append(zone)
        elif may_call_now(windows, (zone,), now):
            open_zones.append(zone)

    found: list[Lead] = []
    if open_zones:
        found += await session.scalars(
            from_leads.where(dialable, Lead.time_zone.in_(open_zones))
            .order_by(*_PRIORITY_SQL)
            .limit(limit)
            .with_for_update(of=Lead, skip_locked=True)
        )
    unplaced = and_(dialable, or_(Lead.time_zone.is_(None), Lead.time_zone.in_(per_number)))
    open_ids = await _open_unplaced(session, unplaced, windows, now, limit)
    if open_ids:
        found += await session.scalars(
            from_leads.where(dialable, Lead.id.in_(open_ids)).with_for_update(
                of=Lead, skip_locked=True
            )
        )
    rank = {lead.id: _priority(lead) for lead in found}
    chosen = sorted(rank, key=rank.__getitem__)[:limit]
    if not chosen:
        return []
    # rows read but not chosen stay locked only until this transaction ends
    claimed = await session.scalars(
        update(Lead)
        .where(Lead.id.in_(chosen))
        .values(status=LeadStatus.IN_PROGRESS, locked_at=now, locked_by=dialer_id, updated_at=now)
        .returning(Lead)
        .execution_options(populate_existing=True)
    )
    return sorted(claimed, key=lambda lead: rank[lead.id])


async def _open_unplaced(
    session: AsyncSession, unplaced: Any, windows: CallingWindows, now: datetime, limit: int
) -> list[int]:
    """Leads judged by their number's zones, read in order (unlocked) until ``limit`` open."""
    rows = await session.execute(
        select(Lead.id, Lead.phone_e164, Lead.time_zone)
        .join(Campaign, Campaign.id == Lead.campaign_id)
        .where(unplaced)
        .order_by(*_PRIORITY_SQL)
        .limit(_UNPLACED_SCAN)
    )
    verdicts: dict[tuple[str, ...], bool] = {}
    found: list[int] = []
    for lead_id, e164, time_zone in rows:
        zones = lead_zones(time_zone, e164)
        if zones not in verdicts:
            verdicts[zones] = may_call_now(windows, zones, now)
        if verdicts[zones]:
            found.append(lead_id)
            if len(found) == limit:
                break
    return found


async def prepare_originate(
    session: AsyncSession,
    lead: Lead,
    campaign: Campaign,
    now: datetime,
    dialer_id: str,
    *,
    user_id: int | None = None,
) -> CallAttempt | Refusal:
    """The check and the pending attempt in one transaction; commit before the Originate."""
    refusal = await check_before_originate(session, lead, campaign, now, dialer_id)
    if refusal is not None:
        return refusal
    return await record_attempt(session, lead, now, user_id=user_id)


async def check_before_originate(
    session: AsyncSession, lead: Lead, campaign: Campaign, now: datetime, dialer_id: str
) -> Refusal | None:
    """None when the lead may be dialled this instant; else releases it and says why.

    Reads everything afresh (a number put on the do-not-call list or a campaign stopped
    a moment ago counts) and holds the lead's row and the line counter until the
    transaction ends: record the attempt in the same transaction.
    """
    fresh = await session.scalar(
        select(Lead)
        .where(Lead.id == lead.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if fresh is None or fresh.status != LeadStatus.IN_PROGRESS or fresh.locked_by != dialer_id:
        return Refusal(Hold.NOT_OURS)
    lead = fresh
    campaign = await session.get(Campaign, campaign.id, populate_existing=True) or campaign
    if campaign.status != CampaignStatus.RUNNING:
        return _release(lead, now, Hold.CAMPAIGN_NOT_RUNNING)
    if await _on_do_not_call(session, lead.phone_e164):
        return _release(lead, now, Hold.DO_NOT_CALL, status=LeadStatus.DNC)
    if campaign.is_advertising and not await has_consent(session, lead, now):
        # a person records the consent and reopens the lead; retrying would only refuse again
        return _release(lead, now, Hold.NO_CONSENT, status=LeadStatus.FAILED)
    windows = _windows(campaign)
    zones = lead_zones(lead.time_zone, lead.phone_e164)
    if windows is None or not may_call_now(windows, zones, now):
        opening = None if windows is None else next_opening(windows, zones, now)
        return _release(lead, now, Hold.OUTSIDE_WINDOW, next_attempt_at=opening)
    await lock_lines(session)
    if await lines_in_use(session) >= MAX_LINES_OVERALL or (
        campaign.max_lines is not None
        and await lines_in_use(session, campaign.id) >= campaign.max_lines
    ):
        return _release(lead, now, Hold.LINES_BUSY)
    return None


class LeadBusy(RuntimeError):
    """The lead already has an attempt in flight: it is never dialled twice at once."""


async def record_attempt(
    session: AsyncSession, lead: Lead, now: datetime, *, user_id: int | None = None
) -> CallAttempt:
    """The pending attempt, stored before the Originate; its ``action_id`` goes with it."""
    lead = await session.get(Lead, lead.id) or lead
    in_flight = await session.scalar(
        select(
            exists().where(
                CallAttempt.lead_id == lead.id,
                CallAttempt.outcome == AttemptOutcome.PENDING,
                CallAttempt.ended_at.is_(None),
            )
        )
    )
    if in_flight:
        raise LeadBusy(f"lead {lead.id} is being dialled already")
    attempt = CallAttempt(
        lead_id=lead.id,
        campaign_id=lead.campaign_id,
        # goes into an AMI header: letters, digits and dashes only
        action_id=f"dial-{lead.id}-{uuid.uuid4().hex}",
        user_id=user_id if user_id is not None else lead.assigned_user_id,
        originated_at=now,
        outcome=AttemptOutcome.PENDING,
    )
    session.add(attempt)
    await session.flush()
    return attempt


def release_lead(lead: Lead, now: datetime) -> None:
    """Give a claimed lead back untouched (e.g. an operator skipped it in preview)."""
    _unlock(lead, now, resumed_status(lead))


def resumed_status(lead: Lead) -> LeadStatus:
    """What a released lead waits as: still a callback if its client asked for one."""
    return LeadStatus.CALLBACK if lead.last_result == CALLBACK_REQUESTED else LeadStatus.NEW


_UNCHANGED: Any = object()


def _release(
    lead: Lead,
    now: datetime,
    reason: Hold,
    *,
    status: LeadStatus | None = None,
    next_attempt_at: datetime | None = _UNCHANGED,
) -> Refusal:
    _unlock(lead, now, status or resumed_status(lead))
    if status is not None:
        lead.last_result = reason.value
    if next_attempt_at is not _UNCHANGED:
        lead.next_attempt_at = next_attempt_at
    return Refusal(reason)


def _unlock(lead: Lead, now: datetime, status: LeadStatus) -> None:
    lead.status = status
    lead.locked_at = None
    lead.locked_by = None
    lead.updated_at = now


async def _on_do_not_call(session: AsyncSession, e164: str) -> bool:
    return bool(await session.scalar(select(exists().where(DoNotCall.e164 == e164))))


async def has_consent(session: AsyncSession, lead: Lead, now: datetime) -> bool:
    """38-FZ: an advertising consent in force for the number, or for its owner."""
    owners = select(ContactPhone.contact_id).where(ContactPhone.e164 == lead.phone_e164)
    subject = or_(Consent.e164 == lead.phone_e164, Consent.contact_id.in_(owners))
    if lead.contact_id is not None:
        subject = or_(subject, Consent.contact_id == lead.contact_id)
    in_force = exists().where(
        subject,
        Consent.kind == ConsentKind.ADVERTISING,
        Consent.given_at <= now,
        or_(Consent.revoked_at.is_(None), Consent.revoked_at > now),
    )
    return bool(await session.scalar(select(in_force)))


async def place_leads(session: AsyncSession, campaign_id: int) -> int:
    """Give leads without a zone their contact's, else their number's single zone, so that
    claiming can filter them in SQL; ambiguous numbers stay without. Returns how many."""
    from_contacts = await session.execute(
        update(Lead)
        .where(
            Lead.campaign_id == campaign_id,
            Lead.time_zone.is_(None),
            Lead.contact_id == Contact.id,
            Contact.time_zone.is_not(None),
        )
        .values(time_zone=Contact.time_zone)
        .execution_options(synchronize_session=False)
    )
    placed: int = getattr(from_contacts, "rowcount", 0) or 0
    unplaced = await session.execute(
        select(Lead.id, Lead.phone_e164).where(
            Lead.campaign_id == campaign_id, Lead.time_zone.is_(None)
        )
    )
    by_zone: dict[str, list[int]] = {}
    for lead_id, e164 in unplaced:
        zones = number_zones(e164)
        if len(zones) == 1:
            by_zone.setdefault(zones[0], []).append(lead_id)
    for zone, ids in by_zone.items():
        await session.execute(
            update(Lead)
            .where(Lead.id.in_(ids))
            .values(time_zone=zone)
            .execution_options(synchronize_session=False)
        )
        placed += len(ids)
    return placed
