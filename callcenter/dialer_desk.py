"""What the web console asks of the dialer: the manager's controls and the operator's
preview work.

``web`` may not import ``dialer`` (the dependency rule), so it reaches it through this
protocol, as it reaches Asterisk through ``Telephony``; ``dialer.desk.Desk`` implements
it and the composition root hands it to the web application.
"""

from __future__ import annotations

import enum
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.campaigns import CampaignRules
from callcenter.models import CallAttempt, Campaign, Disposition, Lead, User


class CampaignAction(enum.StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


DIALLING = "dialling"  # prepare_dial: the lead's attempt is in flight (Dial pressed twice)


class NotConnected(enum.StrEnum):
    """What an operator reports when a previewed call never reached the client."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class DialerDesk(CampaignRules, Protocol):
    async def control(
        self, session: AsyncSession, campaign_id: int, user: User, action: CampaignAction
    ) -> None:
        """Start, pause, resume or stop; ValueError says why the campaign cannot."""
        ...

    def sending(self, session: AsyncSession, campaign_id: int) -> AbstractAsyncContextManager[None]:
        """Held from before the last check until the Originate is out: a stop of the
        campaign waits for it, so nothing is dialled after a stop is acknowledged.
        ``session`` is used for nothing else and is rolled back on exit."""
        ...

    async def next_lead(
        self, session: AsyncSession, campaign: Campaign, user: User, now: datetime
    ) -> Lead | None:
        """The lead this operator holds, else the next one, claimed for them alone."""
        ...

    async def prepare_dial(
        self, session: AsyncSession, lead: Lead, campaign: Campaign, user: User, now: datetime
    ) -> CallAttempt | str:
        """The pending attempt (commit before the Originate), or why the lead may not be
        dialled now (the lead is then released)."""
        ...

    async def originate_failed(
        self, session: AsyncSession, attempt: CallAttempt, now: datetime, *, outcome_known: bool
    ) -> None: ...

    async def skip(
        self, session: AsyncSession, lead: Lead, user: User, reason: str, now: datetime
    ) -> None: ...

    async def last_attempt(
        self, session: AsyncSession, lead_id: int, user: User
    ) -> CallAttempt | None:
        """The lead's latest attempt when this operator placed it: whoever dialled it
        records its result."""
        ...

    async def not_connected(
        self,
        session: AsyncSession,
        attempt: CallAttempt,
        outcome: NotConnected,
        now: datetime,
    ) -> None: ...

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
        """The operator's result after the talk; FormInvalid before any change."""
        ...
