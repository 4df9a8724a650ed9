"""The inbound pipeline: AMI events -> translator -> tracker -> call log and screen-pops;
queue members' events -> the operators' state log (and the wallboard, when one is shown)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink, LiveSnapshot
from ami.translate import translate, translate_channels, translate_members
from callcenter.agent_state import state_payload
from callcenter.call_backlog import CallBacklog
from callcenter.call_log import CallLog
from callcenter.device_calls import DeviceCalls
from callcenter.devices import DeviceDirectory
from callcenter.events import OriginateFinished, QueueMemberPaused, QueueMemberStateChanged
from callcenter.notify import Notifier
from callcenter.operator_log import OperatorStateLog
from callcenter.screen_pop import ScreenPops
from callcenter.tracker import CallTracker
from callcenter.tracking import CallFollower, CallObservers
from callcenter.wallboard import Wallboard
from callcenter.write_retry import reason_of

log = logging.getLogger(__name__)


class InboundPipeline:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        *,
        region: str,
        call_backlog: CallBacklog | None = None,
    ) -> None:
        """``call_backlog``: where calls wait while the database is away (the product
        gives one that spills to disk; by default they wait in memory)."""
        self.devices = DeviceDirectory(db)
        self.call_log = CallLog(db, self.devices, region, backlog=call_backlog)
        # always kept, wallboard or not: the load report reads it
        self.operator_log = OperatorStateLog(db, self.devices)
        self.pops = ScreenPops(db, self.devices, notifier, region=region)
        self.device_calls = DeviceCalls()
        self._notifier = notifier
        # the call log first: its row exists by the time anyone wraps the call up
        self._observers = CallObservers([self.call_log, self.pops, self.device_calls])
        self._followers: list[CallFollower] = []
        self.tracker = CallTracker(self._observers)
        self.wallboard: Wallboard | None = None
        # the tracker holds what the PBX has only after the link's first resync
        self.live_known = False
        self.on_resynced: Callable[[], None] | None = None  # the hub re-sends current calls
        self._started_at = datetime.now(UTC)
        # the calls an earlier run left open: closed once, after the first resync
        self._orphans: asyncio.Task[None] | None = None
        self._orphans_closed = False

    def show_on(self, wallboard: Wallboard) -> None:
        """Keep ``wallboard`` up to date: every call, every queue member's change."""
        self.wallboard = wallboard
        self._observers.add(wallboard)

    def follow(self, follower: CallFollower) -> None:
        """Tell ``follower`` (the dialer engine) of every call after the log and the pops."""
        self._observers.add(follower)
        self._followers.append(follower)

    async def run(self, link: AmiLink) -> None:
        """Consume the link's events until cancelled; owns the call and operator log writers."""
        await self.devices.reload()
        writers = [
            asyncio.create_task(self.call_log.run(), name="call-log-writer"),
            asyncio.create_task(self.operator_log.run(), name="operator-log-writer"),
        ]
        try:
            async for message in link.events():
                event = translate(message, datetime.now(UTC))
                if event is None:
                    continue
                if isinstance(event, QueueMemberPaused):
                    self._agent_paused(event)
                    self.operator_log.member_paused(event)
                    if self.wallboard is not None:
                        self.wallboard.member_paused(event)
                    continue
                if isinstance(event, QueueMemberStateChanged):
                    self.operator_log.member_state(event)
                    if self.wallboard is not None:
                        self.wallboard.member_state(event)
                if isinstance(event, OriginateFinished):
                    for follower in self._followers:
                        follower.originate_finished(event)
                try:
                    self.tracker.handle(event)
                except Exception:
                    log.exception("call tracker failed on %r", event)
        finally:
            if self._orphans is not None:
                writers.append(self._orphans)
            for writer in writers:
                writer.cancel()
            await asyncio.gather(*writers, return_exceptions=True)
            await self.pops.close()

    async def resync(self, snapshot: LiveSnapshot) -> None:
        """After every (re)connect: calls Asterisk no longer has ended while we were away;
        calls it has that we never saw start (we started after them, or they began while
        the link was down) are taken over, so their operators get their pops; every
        queue member's state as it is now."""
        live = snapshot.linkedids()
        self.tracker.reconcile(live, snapshot.taken_at)
        if not self._orphans_closed and (self._orphans is None or self._orphans.done()):
            # in its own task: the event stream never waits on the database
            self._orphans = asyncio.create_task(self._close_orphans(live), name="orphan-calls")
        for follower in self._followers:
            follower.resynced(live, snapshot.taken_at)
        await self.devices.reload()
        rebuilt = translate_channels(snapshot.channels, snapshot.taken_at)
        adopted = self.tracker.adopt(rebuilt)
        self.tracker.catch_up_answers(rebuilt)  # answered while the link was down
        if adopted:
            log.info("took over %d calls that were up before the link", len(adopted))
        self.live_known = True
        if self.on_resynced is not None:
            self.on_resynced()
        members = translate_members(snapshot.members, snapshot.taken_at)
        self.operator_log.resynced(members, snapshot.taken_at)
        if self.wallboard is not None:
            for event in members:
                if isinstance(event, QueueMemberPaused):
                    self.wallboard.member_paused(event)
                else:
                    self.wallboard.member_state(event)

    async def _close_orphans(self, live: set[str]) -> None:
        try:
            closed = await self.call_log.close_orphans(live, self._started_at)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("calls left open by an earlier run not closed yet (%s)", reason_of(exc))
            return  # the next resync tries again
        self._orphans_closed = True
        if closed:
            log.info("closed %d calls an earlier run left in progress", closed)

    def current_calls(self, device: str) -> dict[str, Any]:
        """What rings or talks on ``device`` now, as the console draws it; ``known`` is
        false until the first resync (the tracker may not hold every live call yet)."""
        calls = [
            {**self.pops.current_pop(held.call, held.device), "state": held.state}
            for held in self.device_calls.on(device)
        ]
        return {"known": self.live_known, "calls": calls}

    def _agent_paused(self, event: QueueMemberPaused) -> None:
        # a pause set on the phone or by a supervisor reaches the console too
        operator = self.devices.cached(event.device) if event.device else None
        if operator is not None:
            payload = state_payload(operator.device, event.paused, event.reason, event.queue)
            self._notifier.publish([operator.user_id], "agent.state", payload)
