"""The operator load report: how each operator's time in a period went.

Online is the time their phone was a ready or paused queue member (the state log's
spans, clipped to the period; a span still open counts up to now). Of that, paused
time goes by reason; talk time and answered calls come from the call log (calls
answered by the operator that started in the period); wrap-up is the product's fixed
``WRAP_UP_SECONDS`` after each answered call; idle is what is left.

Calls taken while paused (an outbound call during a pause) are subtracted twice, as
paused and as talk; idle never goes below zero.

Three aggregate queries, whatever the period. Spans overlapping it are found without
reading the history before it: the ones that start in it (per operator through the
``(user_id, started_at)`` index, which the planner takes unless the period is most of
the table), each operator's last span before it (one index probe each: a phone's
spans never overlap and an operator has one phone at a time, so no earlier closed
span can reach in), and the open ones (the partial index of open spans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import DateTime, and_, func, literal, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.models import Call, OperatorStateSpan, Role, User
from callcenter.wallboard import WRAP_UP_SECONDS

_ONLINE = ("ready", "paused")


@dataclass(frozen=True)
class OperatorLoad:
    user_id: int
    full_name: str
    online_seconds: int
    paused_seconds_by_reason: dict[str, int] = field(default_factory=dict)
    talk_seconds: int = 0
    answered: int = 0
    wrap_up_seconds: int = 0
    idle_seconds: int = 0

    @property
    def paused_seconds(self) -> int:
        return sum(self.paused_seconds_by_reason.values())


def _at(value: datetime) -> ColumnElement[datetime]:
    # typed, so asyncpg sends a timestamptz and not a naive timestamp
    return literal(value, DateTime(timezone=True))


async def operator_load(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    wrap_up_seconds: float = WRAP_UP_SECONDS,
    now: datetime | None = None,
) -> list[OperatorLoad]:
    """Each operator's load over ``[start, end)``, by name: active operators, and
    anyone else who was a queue member or answered calls in the period."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if end <= start:
        raise ValueError("the period must end after it starts")
    now = now or datetime.now(UTC)
    states = await _state_seconds(session, start, end, open_until=max(start, min(end, now)))
    calls = await _calls(session, start, end)

    user_ids = {user_id for user_id, _, _ in states} | set(calls)
    users = await session.execute(
        select(User.id, User.full_name).where(
            or_(
                and_(User.is_active.is_(True), User.role == Role.OPERATOR.value),
                User.id.in_(user_ids),
            )
        )
    )
    online_by_user: dict[int, float] = {}
    paused_by_user: dict[int, dict[str, int]] = {}
    for (user_id, state, reason), seconds in sorted(states.items()):
        online_by_user[user_id] = online_by_user.get(user_id, 0.0) + seconds
        if state == "paused":
            paused_by_user.setdefault(user_id, {})[reason] = round(seconds)
    report = []
    for user_id, full_name in users:
        online = round(online_by_user.get(user_id, 0.0))
        paused = paused_by_user.get(user_id, {})
        answered, talk = calls.get(user_id, (0, 0))
        wrap_up = round(answered * wrap_up_seconds)
        idle = max(0, online - sum(paused.values()) - talk - wrap_up)
        report.append(
            OperatorLoad(user_id, full_name, online, paused, talk, answered, wrap_up, idle)
        )
    report.sort(key=lambda row: (row.full_name, row.user_id))
    return report


async def _state_seconds(
    session: AsyncSession, start: datetime, end: datetime, *, open_until: datetime
) -> dict[tuple[int, str, str], float]:
    """Online seconds per (operator, state, reason) within the period."""
    span = OperatorStateSpan
    columns = (span.id, span.user_id, span.state, span.reason, span.started_at, span.ended_at)
    online = span.state.in_(_ONLINE)
    starting_in = (
        select(*columns)
        .join(User, User.id == span.user_id)
        .where(online, span.started_at >= _at(start), span.started_at < _at(end))
    )
    last_before = (
        select(*columns)
        .where(span.user_id == User.id, span.started_at < _at(start))
        .order_by(span.started_at.desc())
        .limit(1)
        .lateral()
    )
    reaching_in = (
        select(*last_before.c)
        .select_from(User)
        .join(last_before, true())
        .where(
            last_before.c.state.in_(_ONLINE),
            last_before.c.ended_at > _at(start),  # an open one is among the next
        )
    )
    # all open ones, not only each operator's last: their phone may have changed and the
    # old phone's span not be closed yet
    still_open = select(*columns).where(
        online, span.ended_at.is_(None), span.started_at < _at(start), span.user_id.is_not(None)
    )
    # disjoint: started in the period, or before it and closed, or before it and open
    overlapping = union_all(starting_in, reaching_in, still_open).subquery()

    row = overlapping.c
    begins = func.greatest(row.started_at, _at(start))
    stops = func.least(func.coalesce(row.ended_at, _at(open_until)), _at(end))
    seconds = func.sum(func.greatest(0, func.extract("epoch", stops - begins)))
    rows = await session.execute(
        select(row.user_id, row.state, row.reason, seconds).group_by(
            row.user_id, row.state, row.reason
        )
    )
    return {(user_id, state, reason): float(total) for user_id, state, reason, total in rows}


async def _calls(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """(answered calls, talk seconds) per operator, of the calls started in the period."""
    rows = await session.execute(
        select(Call.answered_by_id, func.count(), func.coalesce(func.sum(Call.talk_seconds), 0))
        .where(
            Call.answered_by_id.is_not(None),
            Call.started_at >= _at(start),
            Call.started_at < _at(end),
        )
        .group_by(Call.answered_by_id)
    )
    return {user_id: (count, int(talk or 0)) for user_id, count, talk in rows if user_id}
