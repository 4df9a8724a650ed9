"""What the dialer does first after a start: settle calls a previous process left in flight.

An attempt still "pending" belongs to a process (or an AMI link) that died before the
result arrived. Whether the customer's phone rang is unknown, so the attempt is
closed as ``unknown`` and its lead is released as ``unknown`` too: a person decides
whether to call again; the dialer never redials it by itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import AttemptOutcome, CallAttempt, Lead, LeadStatus


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
