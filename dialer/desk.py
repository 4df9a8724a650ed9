"""The dialer as the web console sees it (``callcenter.dialer_desk.DialerDesk``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.dialer_desk import CampaignAction, NotConnected
from callcenter.models import CallAttempt, Campaign, Disposition, Lead, User
from dialer import control, preview
from dialer.results import check_retry_delays
from dialer.windows import parse_windows

_CONTROLS: dict[CampaignAction, Callable[[AsyncSession, int, User], Awaitable[Any]]] = {
    CampaignAction.START: control.start,
    CampaignAction.PAUSE: control.pause,
    CampaignAction.RESUME: control.resume,
    CampaignAction.STOP: control.stop,
}


class Desk:
    def check_windows(self, raw: Any) -> None:
        parse_windows(raw)

    def check_retry_delays(self, raw: Any) -> dict[str, int]:
        return check_retry_delays(raw)

    async def control(
        self, session: AsyncSession, campaign_id: int, user: User, action: CampaignAction
    ) -> None:
        """dialer.control owns every status change; its refusals are ValueErrors."""
        await _CONTROLS[action](session, campaign_id, user)

    @asynccontextmanager
    async def sending(self, session: AsyncSession, campaign_id: int) -> AsyncIterator[None]:
        # the engine's sending_lock, taken per transaction: a stop waits for the
        # Originate to be out, and a stop committed before it is read by the check
        await session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:lock, :campaign)"),
            {"lock": control.CONTROL_LOCK, "campaign": campaign_id},
        )
        try:
            yield
        finally:
            await session.rollback()

    async def next_lead(
        self, session: AsyncSession, campaign: Campaign, user: User, now: datetime
    ) -> Lead | None:
        return await preview.next_lead(session, campaign, user, now)

    async def prepare_dial(
        self, session: AsyncSession, lead: Lead, campaign: Campaign, user: User, now: datetime
    ) -> CallAttempt | str:
        return await preview.prepare_dial(session, lead, campaign, user, now)

    async def originate_failed(
        self, session: AsyncSession, attempt: CallAttempt, now: datetime, *, outcome_known: bool
    ) -> None:
        await preview.originate_failed(session, attempt, now, outcome_known=outcome_known)

    async def skip(
        self, session: AsyncSession, lead: Lead, user: User, reason: str, now: datetime
    ) -> None:
        await preview.skip(session, lead, user, reason, now)

    async def last_attempt(
        self, session: AsyncSession, lead_id: int, user: User
    ) -> CallAttempt | None:
        return await preview.last_attempt(session, lead_id, user)

    async def not_connected(
        self, session: AsyncSession, attempt: CallAttempt, outcome: NotConnected, now: datetime
    ) -> None:
        await preview.not_connected(session, attempt, outcome, now)

    async def dispose(
        self,
        session: AsyncSession,
        attempt: CallAttempt,
        disposition: Disposition,
        user: User,
        now: datetime,
        *,
        refusal_reason_id: int | None = None,
        callback_at: datetime | None = None,
    ) -> None:
        await preview.dispose(
            session,
            attempt,
            disposition,
            user,
            now,
            refusal_reason_id=refusal_reason_id,
            callback_at=callback_at,
        )
