"""Calls an earlier run of the product left "in progress": they ended while it was down.

The call log writes a call when it starts and again when it ends; a process that stops
in between (a restart, a crash) leaves the row open, and the next process never hears
of the call's end: Asterisk has no replay. After its first resync the new process knows
every live call, so a row opened before it started whose call is not live any more has
ended. It is closed as the tracker closes a call that ended while the link was down:
"answered" if it was, else "unknown", at the last moment anything was known of it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Call, CallLeg, CallResult


async def close_orphans(
    session: AsyncSession, live: Collection[str], started_before: datetime
) -> list[int]:
    """Close the open calls started before ``started_before`` that are not ``live``;
    the ids of those closed."""
    last_leg_moment = (
        select(func.max(func.greatest(CallLeg.rang_at, CallLeg.answered_at, CallLeg.ended_at)))
        .where(CallLeg.call_id == Call.id)
        .scalar_subquery()
    )
    query = (
        update(Call)
        .where(Call.result == CallResult.IN_PROGRESS.value, Call.started_at < started_before)
        .values(
            result=case(
                (Call.answered_at.is_not(None), CallResult.ANSWERED.value),
                else_=CallResult.UNKNOWN.value,
            ),
            ended_at=func.coalesce(
                Call.ended_at, func.greatest(Call.started_at, Call.answered_at, last_leg_moment)
            ),
        )
        .returning(Call.id, Call.ended_at)
    )
    if live:
        query = query.where(Call.linkedid.not_in(list(live)))
    closed = (await session.execute(query)).all()
    for call_id, ended_at in closed:
        await session.execute(
            update(CallLeg)
            .where(CallLeg.call_id == call_id, CallLeg.ended_at.is_(None))
            .values(ended_at=ended_at)
        )
    return [call_id for call_id, _ in closed]
