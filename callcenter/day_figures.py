"""Today's queue figures so far, from the call log: where the wallboard starts its day."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.models import Call
from callcenter.wallboard import UNANSWERED, DayCounts


async def day_so_far(
    session: AsyncSession, zone: ZoneInfo, sla_seconds: int, now: datetime
) -> DayCounts:
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), zone)
    answered, abandoned, within = (
        await session.execute(
            select(
                func.count().filter(Call.answered_at.is_not(None)),
                func.count().filter(Call.answered_at.is_(None), Call.result.in_(UNANSWERED)),
                func.count().filter(
                    Call.answered_at.is_not(None), Call.wait_seconds <= sla_seconds
                ),
            ).where(
                Call.direction == "inbound",
                Call.queue_name.is_not(None),
                Call.ended_at.is_not(None),
                Call.started_at >= start,
            )
        )
    ).one()
    return DayCounts(day, int(answered), int(abandoned), int(within))
