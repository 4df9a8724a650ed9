"""The dialer as the web console sees it (``callcenter.dialer_desk.DialerDesk``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.dialer_desk import CampaignAction
from callcenter.models import User
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

    # the preview desk's own functions, as the web layer's DialerDesk names them
    next_lead = staticmethod(preview.next_lead)
    prepare_dial = staticmethod(preview.prepare_dial)
    originate_failed = staticmethod(preview.originate_failed)
    skip = staticmethod(preview.skip)
    last_attempt = staticmethod(preview.last_attempt)
    not_connected = staticmethod(preview.not_connected)
    dispose = staticmethod(preview.dispose)
