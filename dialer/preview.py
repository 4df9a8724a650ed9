"""Preview mode: an operator sees the next lead's card, then dials it or skips it.

A lead shown to an operator is claimed for them (``locked_by = operator-<id>``) by the
same ``claim_next_leads`` the engine uses, so two operators (or an operator and a
dialer) never hold the same lead. An operator who walks away keeps the lead for
``PREVIEW_HOLD``; after that the next claim in the campaign gives it back first (a
lazy release inside the claim's transaction: no timer to own, and nobody waits on a
lead while nobody is claiming). A lead being dialled is never taken back: its pending
attempt is settled by the call's events or by recovery.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.dialer_desk import DIALLING, NotConnected
from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AttemptOutcome,
    CallAttempt,
    Campaign,
    Contact,
    Disposition,
    Lead,
    LeadStatus,
    User,
)
from callcenter.models.calls import Call
from callcenter.timeline import add_note
from dialer.leads import (
    CALLBACK_REQUESTED,
    LeadBusy,
    Refusal,
    claim_next_leads,
    prepare_originate,
    release_lead,
)
from dialer.results import apply_disposition, apply_outcome

PREVIEW_HOLD = timedelta(minutes=10)
# a skipped lead comes back later, not to the next operator who asks
SKIP_DELAY = timedelta(hours=1)
MAX_SKIP_REASON = 500
_HOLDER_PREFIX = "operator-"


def holder(user: User) -> str:
    return f"{_HOLDER_PREFIX}{user.id}"


async def release_stale_claims(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """Give back the leads operators were shown more than ``PREVIEW_HOLD`` ago and never
    dialled; returns how many."""
    pending = exists().where(
        CallAttempt.lead_id == Lead.id,
        CallAttempt.outcome == AttemptOutcome.PENDING,
        CallAttempt.ended_at.is_(None),
    )
    released = await session.execute(
        update(Lead)
        .where(
            Lead.campaign_id == campaign_id,
            Lead.status == LeadStatus.IN_PROGRESS,
            Lead.locked_by.startswith(_HOLDER_PREFIX, autoescape=True),
            Lead.locked_at < now - PREVIEW_HOLD,
            ~pending,
        )
        .values(
            status=case(
                (Lead.last_result == CALLBACK_REQUESTED, LeadStatus.CALLBACK.value),
                else_=LeadStatus.NEW.value,
            ),
            locked_at=None,
            locked_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(released, "rowcount", 0) or 0)


async def held_lead(session: AsyncSession, campaign_id: int, user: User) -> Lead | None:
    return await session.scalar(
        select(Lead)
        .where(
            Lead.campaign_id == campaign_id,
            Lead.status == LeadStatus.IN_PROGRESS,
            Lead.locked_by == holder(user),
        )
        .order_by(Lead.locked_at, Lead.id)
        .limit(1)
    )


async def next_lead(
    session: AsyncSession, campaign: Campaign, user: User, now: datetime
) -> Lead | None:
    """The lead this operator holds (its hold renewed), else one claimed for them now."""
    held = await held_lead(session, campaign.id, user)
    if held is not None:
        held.locked_at = now
        await session.flush()
        return held
    await release_stale_claims(session, campaign.id, now)
    claimed = await claim_next_leads(
        session, campaign, 1, now, holder(user), ready_operators=[user.id]
    )
    return claimed[0] if claimed else None


async def prepare_dial(
    session: AsyncSession, lead: Lead, campaign: Campaign, user: User, now: datetime
) -> CallAttempt | str:
    try:
        found = await prepare_originate(session, lead, campaign, now, holder(user), user_id=user.id)
    except LeadBusy:
        return DIALLING  # Dial pressed twice: the first press is being dialled
    return found.reason.value if isinstance(found, Refusal) else found


async def originate_failed(
    session: AsyncSession, attempt: CallAttempt, now: datetime, *, outcome_known: bool
) -> None:
    """The PBX refused the Originate (nothing rang: failed), or the link broke before its
    answer (unknown: never redialled by itself)."""
    outcome = AttemptOutcome.FAILED if outcome_known else AttemptOutcome.UNKNOWN
    await apply_outcome(session, attempt, outcome, now)


async def skip(session: AsyncSession, lead: Lead, user: User, reason: str, now: datetime) -> None:
    """Give the lead back for later, with the operator's reason on the client's timeline."""
    reason = " ".join(reason.split())
    if not reason:
        raise FormInvalid({"reason": "Say why you skip this client."})
    if len(reason) > MAX_SKIP_REASON:
        raise FormInvalid({"reason": "At most 500 characters."})
    fresh = await session.get(Lead, lead.id, with_for_update=True, populate_existing=True)
    if fresh is None or fresh.locked_by != holder(user) or fresh.status != LeadStatus.IN_PROGRESS:
        raise FormInvalid({"lead": "This client is no longer yours to skip."})
    release_lead(fresh, now)
    fresh.next_attempt_at = now + SKIP_DELAY
    contact = await session.get(Contact, fresh.contact_id) if fresh.contact_id else None
    if contact is not None:
        await add_note(session, contact, user.id, reason)
    await audit.record(
        session, user, "lead.skip", "lead", fresh.id, campaign_id=fresh.campaign_id, reason=reason
    )
    await session.flush()


async def last_attempt(session: AsyncSession, lead_id: int, user: User) -> CallAttempt | None:
    """The lead's latest attempt when it is this operator's to write up: they dialled it
    (preview), or the automatic dialer's call reached them."""
    latest = await session.scalar(
        select(CallAttempt)
        .where(CallAttempt.lead_id == lead_id)
        .order_by(CallAttempt.originated_at.desc(), CallAttempt.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    if latest.user_id is not None:
        return latest if latest.user_id == user.id else None
    if latest.call_id is None:
        return None
    answered_by = await session.scalar(select(Call.answered_by_id).where(Call.id == latest.call_id))
    return latest if answered_by == user.id else None


_NOT_CONNECTED = {
    NotConnected.BUSY: AttemptOutcome.BUSY,
    NotConnected.NO_ANSWER: AttemptOutcome.NO_ANSWER,
    NotConnected.FAILED: AttemptOutcome.FAILED,
}


async def not_connected(
    session: AsyncSession, attempt: CallAttempt, outcome: NotConnected, now: datetime
) -> None:
    """The operator's word that the call never reached the client; the network's own
    result, when it came first, stands."""
    await apply_outcome(session, attempt, _NOT_CONNECTED[outcome], now)


async def dispose(
    session: AsyncSession,
    attempt: CallAttempt,
    disposition: Disposition,
    user: User,
    now: datetime,
    *,
    refusal_reason_id: int | None = None,
    callback_at: datetime | None = None,
) -> None:
    """The talk's result: the attempt closes as answered (unless the call's events closed
    it already), then the disposition decides what becomes of the lead and the client."""
    lead = await session.get(Lead, attempt.lead_id)
    if lead is None:
        raise FormInvalid({"lead": "This client is no longer in the campaign."})
    # a preview lead is held by the operator who dialled it; an automatic call's lead is
    # the dialer's until its call is settled, and its operator is the one who took it
    automatic = attempt.user_id is None
    if not automatic and lead.locked_by is not None and lead.locked_by != holder(user):
        raise FormInvalid({"lead": "Someone else is working this client now."})
    wants_callback = disposition.needs_callback and not disposition.is_dnc
    if wants_callback and (callback_at is None or callback_at <= now):
        raise FormInvalid({"callback_at": "Choose a time in the future for the callback."})
    await apply_outcome(session, attempt, AttemptOutcome.ANSWERED, now)
    await apply_disposition(
        session,
        lead,
        disposition,
        user,
        now,
        refusal_reason_id=refusal_reason_id,
        callback_at=callback_at,
    )
    if attempt.call_id is not None:
        await session.execute(
            update(Call).where(Call.id == attempt.call_id).values(disposition_id=disposition.id)
        )
    await audit.record(
        session, user, "lead.disposition", "lead", lead.id, disposition=disposition.code
    )
