"""The call log: one row per call (Linkedid), written idempotently, plus the client's timeline.

The tracker reports every change synchronously; this writer keeps only the newest
snapshot of each call that is not yet written (so a slow database means fewer,
not more, writes) and upserts it from one task. An upsert never moves a call
backwards: a late or repeated snapshot cannot reopen a finished call or erase
what an earlier one knew.

The snapshots wait in a ``CallBacklog``: bounded in memory, spilled to disk while
the database is away, read back in order when it answers again. The AMI reader
only ever appends to it, so an outage never holds up events, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import ad_channels, missed_calls, orphan_calls
from callcenter.call_backlog import CallBacklog
from callcenter.devices import DeviceDirectory
from callcenter.dialer_calls import dialer_call
from callcenter.models import (
    Call,
    CallAttempt,
    CallLeg,
    Campaign,
    ContactPhone,
    Interaction,
    Lead,
    TrackingNumber,
)
from callcenter.phone_geography import caller_region
from callcenter.phones import to_e164
from callcenter.recordings import RECORDING_VARIABLE, recording_name
from callcenter.tracking import TrackedCall
from callcenter.write_retry import WriteRetry

log = logging.getLogger(__name__)

# a snapshot the database refuses this often in a row, while it answers a ping, is
# set aside (logged): one bad call must not hold up every call after it
MAX_ATTEMPTS = 5
# a repeated snapshot may know less about a leg than the row: keep what is known
_LEG_FIELDS_KEPT = ("user_id", "rang_at", "answered_at", "ended_at", "hangup_cause")


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


class CallLog:
    """A ``CallObserver`` that persists calls; ``run()`` is its writer task."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        devices: DeviceDirectory,
        region: str,
        *,
        backlog: CallBacklog | None = None,
    ) -> None:
        """``backlog``: where unwritten calls wait; the default keeps them in memory."""
        self._db = db
        self._devices = devices
        self._region = region
        self.backlog = backlog if backlog is not None else CallBacklog(None)
        self.retry = WriteRetry(log, "call log")
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.set_aside = 0

    # CallObserver: every change just marks the call for writing
    def call_started(self, call: TrackedCall) -> None:
        self._mark(call)

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        self._mark(call)

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        self._mark(call)

    def call_answered(self, call: TrackedCall, device: str) -> None:
        self._mark(call)

    def call_ended(self, call: TrackedCall) -> None:
        self._mark(call)

    def _mark(self, call: TrackedCall) -> None:
        self.backlog.put(call)
        self._idle.clear()
        self._wakeup.set()

    async def drained(self) -> None:
        """Until everything reported so far is written (tests, shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Write the backlog until cancelled; then what is left goes to disk (if any)."""
        try:
            await self._write_backlog()
        finally:
            self.backlog.close()

    async def _write_backlog(self) -> None:
        refused = 0  # failed writes in a row while the database answered
        while True:
            call = self.backlog.next()
            if call is None:
                self._idle.set()
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            try:
                await self.write(call)
            except Exception as exc:
                # an outage (or a connection it broke) is waited out, however long;
                # only a database that answers yet keeps refusing means a bad snapshot
                refused = refused + 1 if await self._database_answers() else 0
                if refused >= MAX_ATTEMPTS:
                    log.exception("call log: cannot write call %s; set aside", call.linkedid)
                    self.backlog.done(call)
                    self.set_aside += 1
                    refused = 0
                    continue
                await self.retry.failed(exc)
                continue
            refused = 0
            self.retry.succeeded()
            self.backlog.done(call)
            self.written += 1

    async def _database_answers(self) -> bool:
        try:
            async with self._db() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False
        return True

    async def write(self, call: TrackedCall) -> int:
        """Upsert one call with its legs (and its timeline entry once it ended)."""
        async with self._db() as session, session.begin():
            call_id = await self._upsert_call(session, call)
            for leg in call.legs:
                operator = self._devices.cached(leg.device) if leg.device else None
                values: dict[str, Any] = {
                    "call_id": call_id,
                    "uniqueid": leg.uniqueid,
                    "channel": leg.channel,
                    "interface": leg.device,
                    "user_id": operator.user_id if operator else None,
                    "kind": leg.kind,
                    "rang_at": leg.rang_at,
                    "answered_at": leg.answered_at,
                    "ended_at": leg.ended_at,
                    "hangup_cause": leg.hangup_cause,
                }
                statement = insert(CallLeg).values(values)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[CallLeg.uniqueid],
                        set_={
                            k: func.coalesce(statement.excluded[k], getattr(CallLeg, k))
                            for k in _LEG_FIELDS_KEPT
                        },
                    )
                )
            if call.ended_at is not None:
                await self._add_to_timeline(session, call_id)
                await missed_calls.after_call(session, call_id)
                await ad_channels.after_call(session, call_id)
        if dialer_call(call.variables) is not None:
            # a transaction of its own: the call's row holds its lead's key (the foreign
            # key) until commit, and the dialer locks lead then attempt; the other order
            # in one transaction deadlocks with it
            async with self._db() as session, session.begin():
                await _link_attempt(session, call, call_id)
        return call_id

    async def _upsert_call(self, session: AsyncSession, call: TrackedCall) -> int:
        e164 = to_e164(call.caller_number, self._region) if call.caller_number else None
        did_e164 = to_e164(call.did, self._region) if call.did else None
        answered = self._devices.cached(call.answered_device) if call.answered_device else None
        values: dict[str, Any] = {
            "linkedid": call.linkedid,
            "direction": call.direction,
            "caller_number": call.caller_number or None,
            "caller_e164": e164,
            "caller_name": call.caller_name or None,
            "caller_region": caller_region(e164) if e164 else None,
            "did": call.did,
            "tracking_number_id": select(TrackingNumber.id)
            .where(TrackingNumber.did_e164 == did_e164)
            .scalar_subquery(),
            "queue_name": call.queue,
            "contact_id": select(ContactPhone.contact_id)
            .where(ContactPhone.e164 == e164)
            .scalar_subquery(),
            "answered_by_id": answered.user_id if answered else None,
            "started_at": call.started_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "wait_seconds": _seconds(call.wait_seconds),
            "talk_seconds": _seconds(call.talk_seconds),
            "result": call.result,
            "hangup_cause": call.hangup_cause,
            # MixMonitor records only while bridged: an unanswered call has no recording
            "recording_path": recording_name(call.variables.get(RECORDING_VARIABLE))
            if call.answered_at is not None
            else None,
        }
        dialled = dialer_call(call.variables)
        if dialled is not None:
            # subqueries: a campaign or lead deleted meanwhile is NULL, never a failed write
            values["campaign_id"] = (
                select(Campaign.id).where(Campaign.id == dialled.campaign_id).scalar_subquery()
            )
            values["lead_id"] = (
                select(Lead.id)
                .where(Lead.id == dialled.lead_id, Lead.campaign_id == dialled.campaign_id)
                .scalar_subquery()
            )
        statement = insert(Call).values(values)
        new = statement.excluded
        keep_first = (
            *("caller_number", "caller_e164", "caller_name", "caller_region", "did"),
            "tracking_number_id",
            *("campaign_id", "lead_id", "recording_path"),
        )
        take_newest = ("queue_name", "answered_by_id", "answered_at", "ended_at", "wait_seconds")
        updates: dict[str, Any] = {k: func.coalesce(getattr(Call, k), new[k]) for k in keep_first}
        updates |= {k: func.coalesce(new[k], getattr(Call, k)) for k in take_newest}
        updates |= {
            "talk_seconds": func.coalesce(new.talk_seconds, Call.talk_seconds),
            "hangup_cause": func.coalesce(new.hangup_cause, Call.hangup_cause),
            "contact_id": func.coalesce(Call.contact_id, new.contact_id),
            "started_at": func.least(Call.started_at, new.started_at),
            # a finished call never goes back to "in progress"
            "result": case(
                (new.result == "in_progress", Call.result),
                else_=new.result,
            ),
        }
        result = await session.execute(
            statement.on_conflict_do_update(index_elements=[Call.linkedid], set_=updates).returning(
                Call.id
            )
        )
        call_id: int = result.scalar_one()
        return call_id

    async def close_orphans(self, live: Collection[str], started_before: datetime) -> int:
        """Close the calls an earlier run left open that ended meanwhile (orphan_calls);
        each goes on its client's timeline like any ended call."""
        async with self._db() as session, session.begin():
            closed = await orphan_calls.close_orphans(session, live, started_before)
            for call_id in closed:
                await self._add_to_timeline(session, call_id)
        return len(closed)

    async def _add_to_timeline(self, session: AsyncSession, call_id: int) -> None:
        row = (
            await session.execute(
                select(Call.contact_id, Call.started_at, Call.direction, Call.result).where(
                    Call.id == call_id
                )
            )
        ).one()
        contact_id, started_at, direction, result = row
        if contact_id is None:
            return
        exists = await session.scalar(
            select(Interaction.id).where(Interaction.call_id == call_id, Interaction.kind == "call")
        )
        if exists is None:
            session.add(
                Interaction(
                    contact_id=contact_id,
                    kind="call",
                    occurred_at=started_at,
                    call_id=call_id,
                    summary=f"{direction}: {result}",
                    payload={"direction": direction, "result": result},
                )
            )


async def _link_attempt(session: AsyncSession, call: TrackedCall, call_id: int) -> None:
    """A dialer call: its attempt points at the call row."""
    dialled = dialer_call(call.variables)
    if dialled is None:
        return
    await session.execute(
        update(CallAttempt)
        .where(CallAttempt.action_id == dialled.attempt, CallAttempt.call_id.is_(None))
        .values(call_id=call_id)
    )
