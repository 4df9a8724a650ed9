"""Listen, whisper, barge: a supervisor joins one of their own operators' calls.

Only a supervisor may, and only into the calls of an operator of the team they
supervise (a supervisor's own ``team_id``); the supervisor's own phone rings and
ChanSpy joins the operator's call once they answer. Every use is audited before the
PBX is asked, so a refused or failed attempt is on record too.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.models import Role, User
from callcenter.telephony import SPY_MODES, OriginateAccepted, SpyMode, SpyRequest, Telephony


class SpyRefused(Exception):
    """Not allowed, or not possible; ``status`` says which (403, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def may_spy(supervisor: User, operator: User) -> bool:
    return (
        supervisor.role == Role.SUPERVISOR
        and supervisor.team_id is not None
        and operator.team_id == supervisor.team_id
        and operator.id != supervisor.id
    )


async def join_call(
    session: AsyncSession,
    telephony: Telephony,
    supervisor: User,
    operator_id: int,
    mode: str,
    ip: str | None = None,
) -> OriginateAccepted:
    """Ask the PBX to ring the supervisor into the operator's call; commits the audit."""
    if mode not in SPY_MODES:
        raise SpyRefused(400, "mode must be listen, whisper or barge")
    operator = await session.get(User, operator_id)
    if operator is None or not operator.is_active:
        raise SpyRefused(404, "no such operator")
    if not may_spy(supervisor, operator):
        raise SpyRefused(403, "only the supervisor of this operator's team may join their calls")
    if not supervisor.interface or "/" not in supervisor.interface:
        raise SpyRefused(409, "you have no phone: ask an admin to set your device")
    if not operator.interface:
        raise SpyRefused(409, "this operator has no phone")
    spy_mode: SpyMode = mode
    await audit.record(
        session,
        supervisor,
        f"call.{mode}",
        "user",
        operator.id,
        ip,
        operator_device=operator.interface,
    )
    await session.commit()
    return await telephony.spy(
        SpyRequest(
            supervisor_endpoint=supervisor.interface.split("/", 1)[1],
            operator_device=operator.interface,
            mode=spy_mode,
        )
    )
