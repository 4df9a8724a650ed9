"""What became of a dialled lead: automatic results from the telephone network, and the
operator's disposition after a talk.

Automatic results come from the Q.850 hangup cause of the customer's channel or from
the Reason of Asterisk's OriginateResponse; ``apply_outcome`` closes the attempt and
schedules the lead's next try (per-outcome delays, capped by max attempts). The
operator's disposition then decides what the talk meant: a sale, a refusal (the client
becomes "refused" with the reason), "do not call" (the number goes on the list), or a
callback at an agreed time, kept for the same operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.client_edit import update_client
from callcenter.form_errors import FormInvalid, Problems
from callcenter.models import (
    AttemptOutcome,
    CallAttempt,
    Campaign,
    Contact,
    ContactStatus,
    Disposition,
    DoNotCall,
    Lead,
    LeadStatus,
    User,
)
from dialer.leads import CALLBACK_REQUESTED

# Q.850 cause codes of a channel that was never answered
_CAUSES: dict[int, AttemptOutcome] = {
    17: AttemptOutcome.BUSY,  # user busy
    18: AttemptOutcome.NO_ANSWER,  # no user responding
    19: AttemptOutcome.NO_ANSWER,  # no answer from user (alerted)
    16: AttemptOutcome.NO_ANSWER,  # normal clearing before an answer: they let it ring out
    20: AttemptOutcome.NO_ANSWER,  # subscriber absent (switched off)
    34: AttemptOutcome.CONGESTION,  # no circuit available
    38: AttemptOutcome.CONGESTION,  # network out of order
    41: AttemptOutcome.CONGESTION,  # temporary failure
    42: AttemptOutcome.CONGESTION,  # switching equipment congestion
    44: AttemptOutcome.CONGESTION,  # requested channel not available
    1: AttemptOutcome.FAILED,  # unallocated number
    3: AttemptOutcome.FAILED,  # no route to destination
    21: AttemptOutcome.FAILED,  # call rejected
    22: AttemptOutcome.FAILED,  # number changed
    27: AttemptOutcome.FAILED,  # destination out of order
    28: AttemptOutcome.FAILED,  # invalid number format
}

# OriginateResponse Reason: the last control frame Asterisk saw (enum ast_control_frame_type)
_ORIGINATE_REASONS: dict[int, AttemptOutcome] = {
    0: AttemptOutcome.FAILED,  # no frame at all: the channel could not be created
    1: AttemptOutcome.NO_ANSWER,  # hung up before answering
    2: AttemptOutcome.NO_ANSWER,  # ring
    3: AttemptOutcome.NO_ANSWER,  # still ringing when the timeout came
    4: AttemptOutcome.ANSWERED,
    5: AttemptOutcome.BUSY,
    8: AttemptOutcome.CONGESTION,
}

# seconds before the next try when the campaign names no delay of its own
DEFAULT_RETRY_DELAYS: dict[str, int] = {
    AttemptOutcome.BUSY: 10 * 60,
    AttemptOutcome.NO_ANSWER: 60 * 60,
    AttemptOutcome.CONGESTION: 5 * 60,
    AttemptOutcome.FAILED: 2 * 60 * 60,
    AttemptOutcome.MACHINE: 3 * 60 * 60,
    # the client picked up and heard silence: call back soon, with an operator free
    AttemptOutcome.ABANDONED: 10 * 60,
    # a callback asked for without a time
    CALLBACK_REQUESTED: 60 * 60,
}
MAX_RETRY_DELAY = 30 * 24 * 60 * 60


def outcome_from_hangup_cause(cause: int, *, answered: bool) -> AttemptOutcome:
    """The result of a customer channel that hung up with Q.850 ``cause``."""
    if answered:
        return AttemptOutcome.ANSWERED
    return _CAUSES.get(cause, AttemptOutcome.FAILED)


def outcome_from_originate_reason(reason: int) -> AttemptOutcome:
    """The result an OriginateResponse's Reason header stands for."""
    return _ORIGINATE_REASONS.get(reason, AttemptOutcome.FAILED)


def check_retry_delays(raw: Any) -> dict[str, int]:
    """A campaign's submitted ``retry_delays``; FormInvalid names each bad entry."""
    problems = Problems()
    if not isinstance(raw, Mapping):
        problems.add("retry_delays", "Expected a mapping of results to seconds.")
        problems.raise_any()
    delays: dict[str, int] = {}
    for key, seconds in raw.items():
        if key not in DEFAULT_RETRY_DELAYS:
            problems.add("retry_delays", "No retry for result %(result)s.", result=str(key))
        elif (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not 0 < seconds <= MAX_RETRY_DELAY
        ):
            problems.add(f"retry_delays.{key}", "Expected seconds, from 1 to 30 days.")
        else:
            delays[key] = seconds
    problems.raise_any()
    return delays


def retry_delay(campaign_delays: Any, result: str) -> timedelta:
    """The campaign's delay for ``result``, or the default when it has none that fits."""
    try:
        delays = check_retry_delays(campaign_delays or {})
    except FormInvalid:
        delays = {}
    return timedelta(seconds=delays.get(result, DEFAULT_RETRY_DELAYS[result]))


async def apply_outcome(
    session: AsyncSession,
    attempt: CallAttempt,
    outcome: AttemptOutcome,
    now: datetime,
    *,
    ended_at: datetime | None = None,
) -> bool:
    """Close a pending attempt and move its lead on; False when it was settled already.

    ``ended_at``: when the call really ended, if known (it is settled a little later).
    Settling twice is harmless (an event replayed, recovery first): only the first counts.
    """
    if outcome == AttemptOutcome.PENDING:
        raise ValueError("an outcome closes an attempt; pending does not")
    closed = await session.scalar(
        update(CallAttempt)
        .where(
            CallAttempt.id == attempt.id,
            CallAttempt.outcome == AttemptOutcome.PENDING,
            CallAttempt.ended_at.is_(None),
        )
        .values(outcome=outcome, ended_at=min(ended_at or now, now))
        .returning(CallAttempt.id)
        .execution_options(synchronize_session="fetch")
    )
    if closed is None:
        return False
    lead = await session.get(Lead, attempt.lead_id, with_for_update=True, populate_existing=True)
    campaign = await session.get(Campaign, attempt.campaign_id)
    if lead is None or campaign is None:
        return True
    lead.attempts += 1
    lead.updated_at = now
    # a person (or the operator's disposition) may have settled the lead meanwhile
    if lead.status != LeadStatus.IN_PROGRESS:
        return True
    lead.last_result = outcome.value
    lead.locked_at = None
    lead.locked_by = None
    lead.next_attempt_at = None
    if outcome == AttemptOutcome.ANSWERED:
        lead.status = LeadStatus.DONE  # until the operator's disposition says otherwise
    elif outcome == AttemptOutcome.UNKNOWN:
        lead.status = LeadStatus.UNKNOWN  # a person decides; never redialled by itself
    elif lead.attempts >= campaign.max_attempts:
        lead.status = LeadStatus.FAILED
    else:
        lead.status = LeadStatus.NEW
        lead.next_attempt_at = now + retry_delay(campaign.retry_delays, outcome.value)
    await session.flush()
    return True


async def apply_disposition(
    session: AsyncSession,
    lead: Lead,
    disposition: Disposition,
    operator: User,
    now: datetime,
    *,
    refusal_reason_id: int | None = None,
    callback_at: datetime | None = None,
) -> None:
    """What the operator chose after the talk, applied to the lead and the client.

    Raises FormInvalid, before changing anything, for a callback without a future time or
    an unknown refusal reason. A refusal reason is kept on the lead's client (a lead
    without one has nowhere to keep it).
    """
    wants_callback = disposition.needs_callback and not disposition.is_dnc
    if wants_callback and (callback_at is None or callback_at <= now):
        raise FormInvalid({"callback_at": "Choose a time in the future for the callback."})
    lead = await session.get(Lead, lead.id, with_for_update=True, populate_existing=True) or lead
    if refusal_reason_id is not None and lead.contact_id is not None:
        contact = await session.scalar(select(Contact).where(Contact.id == lead.contact_id))
        if contact is not None:
            # the client card's own path: checks the reason, writes the timeline and audit
            await update_client(
                session,
                contact,
                {"status": ContactStatus.REFUSED.value, "refusal_reason_id": refusal_reason_id},
                operator,
            )
    lead.locked_at = None
    lead.locked_by = None
    lead.updated_at = now
    if disposition.is_dnc:
        await session.execute(
            insert(DoNotCall)
            .values(
                e164=lead.phone_e164,
                reason=disposition.code,
                added_by_id=operator.id,
                source="operator",
            )
            .on_conflict_do_nothing(index_elements=[DoNotCall.e164])
        )
        lead.status = LeadStatus.DNC
        lead.last_result = disposition.code
        lead.next_attempt_at = None
    elif disposition.needs_callback:
        lead.status = LeadStatus.CALLBACK
        lead.last_result = CALLBACK_REQUESTED
        lead.assigned_user_id = operator.id
        lead.next_attempt_at = callback_at
    else:
        lead.status = LeadStatus.DONE
        lead.last_result = disposition.code
        lead.next_attempt_at = None
    await session.flush()
