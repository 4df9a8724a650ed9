"""Pushing the wallboard to the supervisors: whenever it changed, at most twice a second.

The picture goes to every connected browser of a leader (supervisor, manager, admin),
encoded once for all of them, and replaces the one before (no per-user history).
Durations tick in the browser from the ``since`` times, so a quiet floor sends one
picture every ``QUIET_SECONDS`` (wrap-ups run out, the day turns over) and no more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import center_settings
from callcenter.day_figures import shown_campaigns
from callcenter.devices import Operator
from callcenter.models import Role
from callcenter.tracking import TrackedCall
from callcenter.wallboard import CampaignLines, Wallboard

LEADER_ROLES = (Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value)
PUSH_SECONDS = 0.5
QUIET_SECONDS = 5.0
SETTINGS_SECONDS = 30.0  # the center's SLA and the campaigns' leads left are read this often

log = logging.getLogger(__name__)


class Broadcast(Protocol):
    def publish_state(self, roles: Collection[str], type_: str, payload: dict[str, Any]) -> None:
        """Send a picture that replaces the previous one to every reader of these roles."""


class WallboardFeed:
    def __init__(
        self,
        wallboard: Wallboard,
        live_calls: Callable[[], Iterable[TrackedCall]],
        staff: Callable[[], list[Operator]],
        db: async_sessionmaker[AsyncSession],
        broadcast: Broadcast,
    ) -> None:
        self.wallboard = wallboard
        self._live_calls = live_calls
        self._staff = staff  # everyone with a phone, as the device directory knows them
        self._db = db
        self._broadcast = broadcast
        # the dialer's calls in flight per campaign (``DialerEngine.lines``), once wired
        self.lines: Callable[[], dict[int, CampaignLines]] | None = None
        self.pushed = 0

    def picture(self) -> dict[str, Any]:
        self.wallboard.operators = self._staff()
        lines = self.lines() if self.lines is not None else {}
        return self.wallboard.snapshot(datetime.now(UTC), self._live_calls(), lines)

    async def run(self) -> None:
        """Until cancelled: push the picture when it changed (or the floor is quiet)."""
        last_push = read_at = float("-inf")
        while True:
            now = time.monotonic()
            try:
                if now - read_at >= SETTINGS_SECONDS:
                    async with self._db() as session:
                        sla = (await center_settings.load(session)).sla_seconds
                        campaigns = await shown_campaigns(session)
                    self.wallboard.sla_seconds = sla
                    if campaigns != self.wallboard.campaigns:
                        self.wallboard.campaigns, self.wallboard.changed = campaigns, True
                    read_at = now
                if self.wallboard.changed or now - last_push >= QUIET_SECONDS:
                    self.wallboard.changed = False
                    self._broadcast.publish_state(LEADER_ROLES, "wallboard", self.picture())
                    self.pushed += 1
                    last_push = now
            except Exception:
                log.exception("wallboard push failed; trying again")
            await asyncio.sleep(PUSH_SECONDS)
