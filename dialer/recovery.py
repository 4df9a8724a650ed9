"""What the dialer does first after a start: settle calls a previous process left in flight.

An attempt still "pending" belongs to a process (or an AMI link) that died before the
result arrived. Whether the customer's phone rang is unknown, so the attempt is
closed as ``unknown`` and its lead is released as ``unknown`` too: a person decides
whether to call again; the dialer never redials it by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import AttemptOutcome, CallAttempt, Lead, LeadStatus
from dialer.leads import CALLBACK_REQUESTED


async def settle_interrupted_attempts(session: AsyncSession, now: datetime) -> int:
    """Close every pending attempt as unknown and release its lead; returns how many."""
    interrupted = (
        (
            await session.execute(
                update(CallAttempt)
                .where(
                    CallAttempt.outcome == AttemptOutcome.PENDING, CallAttempt.ended_at.is_(None)
                )
                .values(outcome=AttemptOutcome.UNKNOWN, ended_at=now)
                .returning(CallAttempt.lead_id)
            )
        )
        .scalars()
        .all()
    )
    if interrupted:
        await session.execute(
            update(Lead)
            .where(Lead.id.in_(interrupted), Lead.status == LeadStatus.IN_PROGRESS)
            .values(
                status=LeadStatus.UNKNOWN,
                last_result=AttemptOutcome.UNKNOWN,
                locked_at=None,
                locked_by=None,
                updated_at=now,
            )
        )
    return len(interrupted)


DIALER_HOLDER_PREFIX = "dialer-"


async def release_dialer_claims(session: AsyncSession, now: datetime) -> int:
    """Leads an earlier dialer claimed but never dialled go back to the list; how many.

    Run after ``settle_interrupted_attempts``: a lead with an attempt is settled there.
    """
    pending = exists().where(
        CallAttempt.lead_id == Lead.id,
        CallAttempt.outcome == AttemptOutcome.PENDING,
        CallAttempt.ended_at.is_(None),
    )
    released = await session.execute(
        update(Lead)
        .where(
            Lead.status == LeadStatus.IN_PROGRESS,
            Lead.locked_by.startswith(DIALER_HOLDER_PREFIX, autoescape=True),
            ~pending,
        )
        .values(
            status=case(
                (Lead.last_result == CALLBACK_REQUESTED, LeadStatus.CALLBACK),
                else_=LeadStatus.NEW,
            ),
            locked_at=None,
            locked_by=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(released, "rowcount", 0) or 0)
