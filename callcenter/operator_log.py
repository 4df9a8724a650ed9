"""The operators' state history: one row per stretch a phone spent ready, paused or offline.

The queue member events give each phone one state, derived as the wallboard does:
offline while Asterisk reports the device unavailable, else paused (with its reason)
or ready. Only a change of state or reason is a transition; the writer task persists
transitions in order, each in one transaction that closes the phone's open span and
opens the next, so the load report can sum time per state over any period.

Idempotent and restart-safe: a transition whose state, reason and operator the open
span already has keeps that span open (a phone given to another operator starts a new
span at the next snapshot). After every (re)connect the AMI snapshot replays every
phone's state (``resynced``): a phone still as the database has it keeps its span, one
that changed while nobody was listening changes at the snapshot's time, and one that
left every queue has its span closed. So the time the listener was down counts as the state last
seen, which is all anyone can know.

The AMI reader is never blocked: the events only queue transitions. While the database
is down the queue keeps them all, up to ``max_pending``; past that, a phone's newest
transition not yet written is replaced by its next one (the short span between them is
lost, folded into the one before), so memory stays bounded by the cap plus one
transition per phone while the database is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.devices import DeviceDirectory
from callcenter.events import QueueMemberPaused, QueueMemberStateChanged
from callcenter.models import OperatorStateSpan
from callcenter.queue_member import QueueMember
from callcenter.write_retry import WriteRetry

log = logging.getLogger(__name__)

RETRY_SECONDS = (0.5, 1, 2, 5)
# about a working day of a busy 100-seat floor's transitions, a few megabytes
MAX_PENDING = 50_000
# Asterisk device states a queue member reports when its phone is not reachable (as the
# wallboard reads them)

MemberState = Literal["ready", "paused", "offline"]


@dataclass(frozen=True, slots=True)
class StateChange:
    """From ``at`` on, ``device`` (owned by ``user_id`` then) is in ``state``."""

    device: str
    user_id: int | None
    state: MemberState
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Roster:
    """Every phone that was a queue member at ``at``; the others' open spans end then."""

    devices: frozenset[str]
    at: datetime


@dataclass(slots=True)
class _Slot:
    """A place in the writer's queue; a coalesced transition replaces its item."""

    item: StateChange | Roster


@dataclass(slots=True)
class _Member(QueueMember):
    device: str = ""  # as Asterisk spells it (the wallboard compares lower-cased)
    noted: tuple[MemberState, str] | None = None  # the last transition queued

    def state(self) -> tuple[MemberState, str]:
        if self.offline:
            return "offline", ""
        if self.paused:
            return "paused", self.reason
        return "ready", ""


class OperatorStateLog:
    """Fed the queue member events (synchronously); ``run()`` is its writer task."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        devices: DeviceDirectory,
        *,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._db = db
        self._devices = devices
        self._max_pending = max_pending
        self._members: dict[str, _Member] = {}  # by device, lower-cased
        self._queue: deque[_Slot] = deque()
        # the newest slots the writer has not started on: per device, and the roster's
        self._newest: dict[str, _Slot] = {}
        self._roster: _Slot | None = None
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.coalesced = 0
        self.retry = WriteRetry(log, "operator state log", RETRY_SECONDS)

    # ------------------------------------------------------------ events

    def member_paused(self, event: QueueMemberPaused) -> None:
        if event.device is None:
            return
        member = self._apply_pause(event)
        self._note_if_changed(member, event.at)

    def member_state(self, event: QueueMemberStateChanged) -> None:
        if event.device is None:
            return
        member = self._apply_state(event)
        self._note_if_changed(member, event.at)

    def resynced(
        self, events: Iterable[QueueMemberStateChanged | QueueMemberPaused], taken_at: datetime
    ) -> None:
        """The snapshot's members: every phone's state now, whether or not it changed."""
        self._members.clear()  # a phone missing from the snapshot left every queue
        for event in events:
            if event.device is None:
                continue
            if isinstance(event, QueueMemberPaused):
                self._apply_pause(event)
            else:
                self._apply_state(event)
        present = frozenset(m.device for m in self._members.values())
        # the roster is a barrier for the phones that left: nothing queued before it may
        # be moved after it, or a span it closed would open again
        for key in [k for k in self._newest if k not in self._members]:
            del self._newest[key]
        self._enqueue_roster(Roster(present, taken_at))
        for member in self._members.values():
            self._note(member, taken_at)

    def _apply_pause(self, event: QueueMemberPaused) -> _Member:
        member = self._member(event.device or "")
        member.take_pause(event)
        return member

    def _apply_state(self, event: QueueMemberStateChanged) -> _Member:
        member = self._member(event.device or "")
        member.take_state(event)
        return member

    def _member(self, device: str) -> _Member:
        # the first spelling seen stays: one phone, one open span
        return self._members.setdefault(device.lower(), _Member(device=device))

    def _note_if_changed(self, member: _Member, at: datetime) -> None:
        if member.noted != member.state():
            self._note(member, at)

    # ------------------------------------------------------------ the queue

    def _note(self, member: _Member, at: datetime) -> None:
        member.noted = member.state()
        state, reason = member.noted
        owner = self._devices.cached(member.device)
        change = StateChange(member.device, owner.user_id if owner else None, state, reason, at)
        key = member.device.lower()
        newest = self._newest.get(key)
        if newest is not None and len(self._queue) >= self._max_pending:
            newest.item = change
            self.coalesced += 1
            if self.coalesced % 1000 == 1:
                log.warning("operator state log backlog full: %d coalesced", self.coalesced)
        else:
            self._newest[key] = self._push(change)
        self._wake()

    def _enqueue_roster(self, roster: Roster) -> None:
        previous, self._roster = self._roster, None
        if previous is not None and len(self._queue) >= self._max_pending:
            # a later snapshot says all an earlier one would, but for phones that left
            # and came back in between: their gap is lost, like a coalesced transition
            self._queue.remove(previous)
            self.coalesced += 1
        self._roster = self._push(roster)
        self._wake()

    def _push(self, item: StateChange | Roster) -> _Slot:
        slot = _Slot(item)
        self._queue.append(slot)
        return slot

    def _wake(self) -> None:
        self._idle.clear()
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        """Transitions (and snapshots) waiting to be written."""
        return len(self._queue)

    async def drained(self) -> None:
        """Until everything reported so far is written (tests, shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                slot = self._queue[0]
                # from here on the slot is the writer's: a newer transition queues anew
                if slot is self._roster:
                    self._roster = None
                elif isinstance(slot.item, StateChange):
                    key = slot.item.device.lower()
                    if self._newest.get(key) is slot:
                        del self._newest[key]
                try:
                    await self.write(slot.item)
                except Exception as exc:  # noqa: BLE001 - logged once per outage
                    await self.retry.failed(exc)
                    continue
                self.retry.succeeded()
                self._queue.popleft()
                self.written += 1
            self._idle.set()

    # ------------------------------------------------------------ the database

    async def write(self, item: StateChange | Roster) -> None:
        async with self._db() as session, session.begin():
            if isinstance(item, Roster):
                await _close_all_but(session, item)
            else:
                await _change(session, item)


async def _change(session: AsyncSession, change: StateChange) -> None:
    span = await session.scalar(
        select(OperatorStateSpan)
        .where(OperatorStateSpan.device == change.device, OperatorStateSpan.ended_at.is_(None))
        .with_for_update()
    )
    starts = change.at
    if span is not None:
        same = (span.state, span.reason, span.user_id)
        if same == (change.state, change.reason, change.user_id):
            return  # a replayed state (a snapshot, a retried write): the span goes on
        # PBX timestamps and the snapshot's local clock may disagree a little: spans of a
        # phone never overlap nor run backwards
        starts = max(change.at, span.started_at)
        span.ended_at = starts
        await session.flush()  # closed before the next opens: one open span per phone
    session.add(
        OperatorStateSpan(
            user_id=change.user_id,
            device=change.device,
            state=change.state,
            reason=change.reason,
            started_at=starts,
        )
    )


async def _close_all_but(session: AsyncSession, roster: Roster) -> None:
    await session.execute(
        update(OperatorStateSpan)
        .where(
            OperatorStateSpan.ended_at.is_(None),
            OperatorStateSpan.device.not_in(sorted(roster.devices)),
        )
        .values(ended_at=func.greatest(OperatorStateSpan.started_at, roster.at))
    )
