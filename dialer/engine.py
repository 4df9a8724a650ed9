"""The automatic dialer: one loop per database that paces, places and settles calls.

``run`` first waits to be *the* dialer (``dialer.election``), then settles what an
earlier dialer left (``dialer.recovery``) and goes round, every ``tick_seconds`` or
sooner when a control or a call's end wakes it:

1. settle every call in flight whose outcome is known (``dialer.flights``);
2. read the running campaigns in automatic modes and their operators, and make the
   PBX's dialer queue match (``dialer.queue_members``);
3. per campaign: the floor (``dialer.floor``), ``CampaignPacer.calls_to_place``,
   ``claim_next_leads``, then for each lead, under the campaign's sending lock
   (``dialer.control``): ``prepare_originate`` + commit, then ``call_customer``.

Results come from the call tracker, which this engine follows (``CallFollower``):
the Originate's response (answered, or failed before any channel), the call's
variables (``CALLCENTER_RESULT`` from the dial plan), the operator who took it and
the customer channel's hangup cause. A refusal by the PBX is a failed attempt
(nothing was dialled); a lost link or no reply is an unknown one, never redialled;
every call in flight when the AMI link comes back is unknown too, because its
events during the outage are gone.

Once the engine has seen the link down, it places no call until the link has
resynced, so "in flight at a reconnect" means the calls placed over the link that
went away (and, should a reconnect slip between two rounds, a call placed in the
instant before the resync: unknown too, which is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from callcenter.dialer_calls import (
    AMD_VARIABLE,
    OPERATOR_VARIABLE,
    dialer_call,
    originate_variables,
)
from callcenter.events import OriginateFinished
from callcenter.models import (
    AbandonWindow,
    AttemptOutcome,
    CallAttempt,
    Campaign,
    CampaignStatus,
    DialMode,
    Lead,
)
from callcenter.telephony import CustomerCall, DialerTelephony, QueueReport, TelephonyError
from callcenter.tracking import TrackedCall
from callcenter.wallboard import CampaignLines
from dialer.control import sending_lock
from dialer.dial_state import (
    ABANDON_GRACE_SECONDS,
    ABANDON_WINDOW_SECONDS,
    Outcome,
    OutcomeKind,
    PacingSettings,
)
from dialer.election import elected
from dialer.flights import Flight
from dialer.floor import AbandonCounts, campaign_members, floor_state, is_ready
from dialer.leads import (
    LeadBusy,
    Refusal,
    claim_next_leads,
    place_leads,
    prepare_originate,
    release_lead,
)
from dialer.pacing import CampaignPacer
from dialer.queue_members import (
    CampaignOperatorPhone,
    operator_phones,
    sync_members,
    wanted_members,
)
from dialer.recovery import (
    DIALER_HOLDER_PREFIX,
    release_dialer_claims,
    settle_interrupted_attempts,
)
from dialer.results import apply_outcome

log = logging.getLogger(__name__)

AUTOMATIC_MODES = (DialMode.PROGRESSIVE, DialMode.PREDICTIVE, DialMode.POWER)
TICK_SECONDS = 0.5
RING_SECONDS = 25  # the law asks for at least 15 s before giving up
REPLY_SECONDS = 5.0  # for Asterisk's "queued" reply to an Originate
RESTART_SECONDS = 5.0  # after the database or a bug ended a round
_FAILED = (
    AttemptOutcome.BUSY,
    AttemptOutcome.NO_ANSWER,
    AttemptOutcome.CONGESTION,
    AttemptOutcome.FAILED,
)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class DialerEngine:
    """Follows the calls (``CallFollower``) and runs the dialling loop (``run``)."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        telephony: DialerTelephony,
        *,
        dialer_id: str | None = None,
        ring_seconds: int = RING_SECONDS,
        tick_seconds: float = TICK_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._telephony = telephony
        self.dialer_id = dialer_id or f"{DIALER_HOLDER_PREFIX}{uuid.uuid4().hex[:12]}"
        if not self.dialer_id.startswith(DIALER_HOLDER_PREFIX):
            raise ValueError(f"a dialer id starts with {DIALER_HOLDER_PREFIX!r}")
        self._ring_seconds = ring_seconds
        self._tick = tick_seconds
        self._clock = clock
        self._flights: dict[str, Flight] = {}  # by the attempt's action id
        self._pacers: dict[int, CampaignPacer] = {}
        self._busy_since: dict[int, dict[str, float]] = {}  # campaign -> device -> since
        self._connected: dict[str, float] = {}  # device -> when one of our calls reached it
        self._placed_zones: set[int] = set()  # campaigns whose leads got their zones
        self._wake = asyncio.Event()
        # False from the moment the link is seen down until it has resynced
        self._synced = True
        self._quiet_until = 0.0
        self.elected = asyncio.Event()
        # told of every placed attempt's outcome: the wallboard counts the day's calls
        self.on_settled: Callable[[int, str, datetime], None] | None = None
        self.originated = 0
        self.rounds = 0  # rounds that could dial (the link was up and resynced)

    # ------------------------------------------------------------ CallFollower

    def call_started(self, call: TrackedCall) -> None:
        pass

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        pass

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        pass

    def call_answered(self, call: TrackedCall, device: str) -> None:
        flight = self._flight_of(call)
        if flight is not None and flight.connected_at is None:
            flight.connected_at = self._clock()
            flight.device = device.lower()
            self._connected[flight.device] = flight.connected_at

    def call_ended(self, call: TrackedCall) -> None:
        if call.answered_device is not None:
            self._connected.pop(call.answered_device.lower(), None)
        flight = self._flight_of(call)
        if flight is not None:
            flight.ended = call  # a later, corrected snapshot replaces an earlier one
            flight.ended_at = flight.ended_at or self._clock()
            self._wake.set()

    def originate_finished(self, event: OriginateFinished) -> None:
        flight = self._flights.get(event.action_id)
        if flight is None:
            return
        now = self._clock()
        if event.success and flight.answered_at is None:
            flight.answered_at = now
            self._learn(flight.campaign_id, OutcomeKind.ANSWERED, now - flight.placed_at, now)
        elif not event.success:
            flight.failed_reason, flight.failed_at = event.reason, now
        self._wake.set()

    def resynced(self, live_linkedids: set[str], taken_at: datetime) -> None:
        # placed before this connection was up: its events while the link was away are gone
        for flight in self._flights.values():
            if flight.placed_at < taken_at.timestamp():
                flight.lost = True
        self._connected.clear()
        self._synced = True
        self._wake.set()

    def _flight_of(self, call: TrackedCall) -> Flight | None:
        ids = dialer_call(call.variables)
        return self._flights.get(ids.attempt) if ids is not None else None

    # ------------------------------------------------------------ the loop

    def wake(self) -> None:
        """Go round now (tests; the controls wake it through PostgreSQL)."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: wait to be the dialer, recover, then dial round after round."""
        engine: Any = self._db.kw["bind"]
        while True:
            try:
                async with elected(engine, self._wake) as connection:
                    self.elected.set()
                    await self._recover()
                    while True:
                        await self._round(connection)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._tick)
                        self._wake.clear()
            except Exception:
                log.exception("dialer stopped; starting again in %s s", RESTART_SECONDS)
            finally:
                self.elected.clear()
            await asyncio.sleep(RESTART_SECONDS)

    async def _recover(self) -> None:
        now = _utc(self._clock())
        async with self._db() as session:
            latest = await session.scalar(
                select(func.max(CallAttempt.originated_at)).where(
                    CallAttempt.outcome == AttemptOutcome.PENDING, CallAttempt.ended_at.is_(None)
                )
            )
            unknown = await settle_interrupted_attempts(session, now)
            released = await release_dialer_claims(session, now)
            await session.commit()
        self._flights.clear()
        self._placed_zones.clear()
        if latest is not None:
            # an earlier dialer's calls may still ring, unseen by the floor, and then take
            # operators this engine counts as ready: pace only once they cannot ring any more
            self._quiet_until = latest.timestamp() + self._ring_seconds + ABANDON_GRACE_SECONDS
        if unknown or released:
            log.warning(
                "dialer: %d attempts were in flight at the last stop (now unknown), "
                "%d leads claimed but not dialled (released)",
                unknown,
                released,
            )

    async def _round(self, connection: AsyncConnection) -> None:
        await self._settle_known()
        if self._telephony.state != "connected":
            self._synced = False
            return
        if not self._synced:
            return
        self.rounds += 1
        async with self._db() as session:
            campaigns = list(
                await session.scalars(
                    select(Campaign)
                    .where(
                        Campaign.status == CampaignStatus.RUNNING,
                        Campaign.mode.in_(AUTOMATIC_MODES),
                    )
                    .order_by(Campaign.id)
                )
            )
            for campaign in campaigns:
                if campaign.id not in self._placed_zones:
                    await place_leads(session, campaign.id)
                    self._placed_zones.add(campaign.id)
            # operators stay in the queue while their campaign's calls are still in flight
            working = {c.id for c in campaigns} | {f.campaign_id for f in self._flights.values()}
            phones = await operator_phones(session, working)
            await session.commit()
        try:
            report = await asyncio.wait_for(self._telephony.queue_status(), REPLY_SECONDS)
        except (ConnectionError, TimeoutError, TelephonyError) as exc:
            log.warning("dialer: no queue status from the PBX (%s); trying again", exc)
            return
        if await sync_members(self._telephony, report, wanted_members(phones)):
            self._wake.set()  # the next round reads the new members
            return
        if self._clock() < self._quiet_until:
            return
        for campaign in campaigns:
            await self._pace(connection, campaign, report, phones)

    # ------------------------------------------------------------ placing calls

    async def _pace(
        self,
        connection: AsyncConnection,
        campaign: Campaign,
        report: QueueReport,
        phones: list[CampaignOperatorPhone],
    ) -> None:
        now = self._clock()
        pacer = self._pacer(campaign)
        members = campaign_members(report, campaign.id)
        counts = AbandonCounts()
        if campaign.mode == DialMode.PREDICTIVE:
            counts = await self._abandon_counts(campaign, now)
        state = floor_state(
            now,
            members,
            [f for f in self._flights.values() if f.campaign_id == campaign.id],
            self._busy_since.setdefault(campaign.id, {}),
            self._connected,
            counts,
        )
        wanted = pacer.calls_to_place(state)
        if wanted <= 0:
            return
        own = {p.device.lower(): p for p in phones if p.campaign_id == campaign.id}
        ready = {
            own[m.device.lower()].user_id
            for m in members
            if is_ready(m) and m.device.lower() in own and m.device.lower() not in self._connected
        }
        async with self._db() as session:
            leads = await claim_next_leads(
                session, campaign, wanted, _utc(now), self.dialer_id, ready_operators=ready
            )
            await session.commit()
        if not leads:
            return
        devices = {p.user_id: p.device for p in own.values()}
        async with sending_lock(connection, campaign.id):
            for lead in leads:
                await self._place(campaign, lead, devices)

    async def _place(self, campaign: Campaign, lead: Lead, devices: dict[int, str]) -> None:
        now = self._clock()
        if self._telephony.state != "connected":
            await self._release(lead)
            return
        async with self._db() as session:
            try:
                prepared = await prepare_originate(
                    session, lead, campaign, _utc(now), self.dialer_id
                )
            except LeadBusy:
                await session.rollback()
                log.error("lead %s has a call in flight already: not dialled", lead.id)
                await self._release(lead)
                return
            await session.commit()
        if isinstance(prepared, Refusal):
            log.info("lead %s not dialled: %s", lead.id, prepared.reason)
            return
        flight = Flight(
            prepared.id, prepared.action_id, campaign.id, lead.id, now, self._ring_seconds
        )
        # before sending: the call's first events may come before the reply
        self._flights[flight.action_id] = flight
        variables = originate_variables(campaign.id, lead.id, prepared.action_id)
        if campaign.amd_enabled:
            variables[AMD_VARIABLE] = "1"
        if lead.assigned_user_id is not None and lead.assigned_user_id in devices:
            variables[OPERATOR_VARIABLE] = devices[lead.assigned_user_id]
        call = CustomerCall(
            number=lead.phone_e164,
            request_id=prepared.action_id,
            caller_id=campaign.caller_id or "",
            variables=variables,
            ring_seconds=self._ring_seconds,
        )
        try:
            await asyncio.wait_for(self._telephony.call_customer(call), REPLY_SECONDS)
        except (TelephonyError, ValueError) as exc:
            log.warning("Originate for lead %s refused: %s", lead.id, exc)
            await self._settle(flight, AttemptOutcome.FAILED, placed=False)
        except (ConnectionError, TimeoutError) as exc:
            log.warning("Originate for lead %s: outcome unknown (%s)", lead.id, exc)
            await self._settle(flight, AttemptOutcome.UNKNOWN, placed=False)
        else:
            self.originated += 1

    async def _release(self, lead: Lead) -> None:
        async with self._db() as session:
            fresh = await session.get(Lead, lead.id, with_for_update=True, populate_existing=True)
            if fresh is not None and fresh.locked_by == self.dialer_id:
                release_lead(fresh, _utc(self._clock()))
            await session.commit()

    # ------------------------------------------------------------ results

    async def _settle_known(self) -> None:
        now = self._clock()
        for flight in list(self._flights.values()):
            outcome = flight.verdict(now)
            if outcome is not None:
                await self._settle(flight, outcome)

    async def _settle(
        self, flight: Flight, outcome: AttemptOutcome, *, placed: bool = True
    ) -> None:
        now = self._clock()
        # the attempt ended when its call did, not when this round got to it
        ended = (flight.ended_at or flight.failed_at) if placed else None
        async with self._db() as session:
            attempt = await session.get(CallAttempt, flight.attempt_id)
            if attempt is not None:
                await apply_outcome(
                    session,
                    attempt,
                    outcome,
                    _utc(now),
                    ended_at=_utc(ended) if ended is not None else None,
                )
            await session.commit()
        self._flights.pop(flight.action_id, None)
        if placed:
            self._learn_outcome(flight, outcome, now)
            if self.on_settled is not None:
                self.on_settled(flight.campaign_id, outcome.value, _utc(now))

    def lines(self) -> dict[int, CampaignLines]:
        """Each campaign's calls in flight now: ringing, and talking with an operator."""
        ringing: Counter[int] = Counter()
        talking: Counter[int] = Counter()
        for flight in self._flights.values():
            if flight.ringing:
                ringing[flight.campaign_id] += 1
            elif flight.connected_at is not None and flight.ended is None:
                talking[flight.campaign_id] += 1
        return {
            campaign: CampaignLines(ringing[campaign], talking[campaign])
            for campaign in ringing | talking
        }

    def _learn_outcome(self, flight: Flight, outcome: AttemptOutcome, now: float) -> None:
        ended = flight.ended_at or now
        if outcome == AttemptOutcome.ANSWERED and flight.connected_at is not None:
            self._learn(flight.campaign_id, OutcomeKind.TALK, ended - flight.connected_at, now)
        elif outcome == AttemptOutcome.ABANDONED and flight.answered_at is not None:
            self._learn(flight.campaign_id, OutcomeKind.ABANDONED, ended - flight.answered_at, now)
        elif outcome in _FAILED:
            self._learn(flight.campaign_id, OutcomeKind.FAILED, ended - flight.placed_at, now)

    def _learn(self, campaign_id: int, kind: OutcomeKind, seconds: float, now: float) -> None:
        pacer = self._pacers.get(campaign_id)
        if pacer is not None:
            pacer.learn(Outcome(kind, max(0.0, seconds), now))

    # ------------------------------------------------------------ pacing

    def _pacer(self, campaign: Campaign) -> CampaignPacer:
        settings = PacingSettings(
            mode=DialMode(campaign.mode),
            target_abandon_rate=float(campaign.target_abandon_rate),
            abandon_window=AbandonWindow(campaign.abandon_window),
            lines_per_operator=float(campaign.lines_per_operator),
            max_lines=campaign.max_lines,
        )
        pacer = self._pacers.get(campaign.id)
        if pacer is None:
            pacer = self._pacers[campaign.id] = CampaignPacer(settings)
        pacer.settings = settings  # edited settings apply at once; what was learned stays
        return pacer

    async def _abandon_counts(self, campaign: Campaign, now: float) -> AbandonCounts:
        window = ABANDON_WINDOW_SECONDS[AbandonWindow(campaign.abandon_window)]
        by_person = (AttemptOutcome.ANSWERED, AttemptOutcome.ABANDONED)
        async with self._db() as session:
            answered, abandoned = (
                await session.execute(
                    select(
                        func.count().filter(CallAttempt.outcome.in_(by_person)),
                        func.count().filter(CallAttempt.outcome == AttemptOutcome.ABANDONED),
                    ).where(
                        CallAttempt.campaign_id == campaign.id,
                        CallAttempt.originated_at >= _utc(now) - timedelta(seconds=window),
                    )
                )
            ).one()
        return AbandonCounts(int(answered), int(abandoned))
