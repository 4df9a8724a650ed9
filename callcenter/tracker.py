"""Fold telephony events into one ``TrackedCall`` per Asterisk ``Linkedid``.

Pure and synchronous: ``handle(event)`` updates the call and tells the observer
what changed. It relies on no dialplan names, only on what every Asterisk
dialplan produces:

- the call's first channel (uniqueid == linkedid) either called in (created in
  state Ring: a trunk or a phone dialled Asterisk) or was originated (created
  Down and dialled by Asterisk itself, a DialBegin with no calling channel);
- every other channel is dialled by some channel of the call (DialBegin), by a
  queue (AgentCalled) or by a transfer.

Which devices are operators' phones comes from ``is_operator_device`` (the
user directory in production). Without it a device counts as an operator's
when it is a queue member or its channel's caller ID is a short extension
(2-6 digits), which is how phones differ from trunks on most PBXs.

Events may come twice or slightly out of order: every fact is kept with its
PBX time and the snapshot is computed from the facts, so the result does not
depend on arrival order. A call ends when every channel seen has hung up; it
lingers a while so late events still update it (``call_ended`` is then sent
again with the corrected snapshot), and its linkedid is remembered longer so
stragglers never start a second call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter.events import (
    AgentAnswered,
    AgentEvent,
    AgentMissed,
    AgentRinging,
    AttendedTransferred,
    BlindTransferred,
    BridgeEntered,
    BridgeLeft,
    CallEvent,
    ChannelCreated,
    ChannelHungUp,
    ChannelInfo,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    Event,
    OriginateFinished,
    QueueCallerAbandoned,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberPaused,
    QueueMemberStateChanged,
    VariableSet,
)
from callcenter.tracking import CallObserver, Direction, LegKind, LegSnapshot, Result, TrackedCall

LINGER = timedelta(seconds=30)
"""How long an ended call still takes late events (PBX time)."""
REMEMBER_ENDED = 100_000
"""How many ended linkedids are remembered so late events are ignored."""
DID_VARIABLE = "CALLCENTER_DID"
# set only by our own Originates (click-to-dial, preview, the dialer): a call carrying
# one was placed by us. The dial plan sets others on inbound calls too (the DID, the
# recording's name, the personal manager), which say nothing about the direction.
ORIGINATE_VARIABLES = frozenset(
    {"CALLCENTER_USER", "CALLCENTER_CAMPAIGN", "CALLCENTER_LEAD", "CALLCENTER_ATTEMPT"}
)
_NOT_AN_EXTEN = frozenset({"", "s", "h", "i", "t"})
# Q.850 causes of a channel that never got answered
_CAUSE_RESULTS: dict[int, Result] = {
    17: "busy",
    18: "no_answer",
    19: "no_answer",
    21: "failed",
    34: "congestion",
    38: "congestion",
    42: "congestion",
}
_DIAL_RESULTS: dict[str, Result] = {
    "busy": "busy",
    "noanswer": "no_answer",
    "cancel": "no_answer",
    "congestion": "congestion",
    "chanunavail": "failed",
    "dontcall": "failed",
    "torture": "failed",
    "invalidargs": "failed",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _short_extension(number: str) -> bool:
    return 2 <= len(number) <= 6 and number.isascii() and number.isdigit()


def _dialled_number(caller: ChannelInfo | None, dial_string: str) -> str:
    """The number a channel dialled: its extension, else the dial string's user part."""
    if caller is not None and caller.exten not in _NOT_AN_EXTEN:
        return caller.exten
    user = dial_string.split("@", 1)[0].rsplit("/", 1)[-1]
    return user


@dataclass(slots=True)
class _Leg:
    uniqueid: str
    channel: str
    device: str | None
    first_at: datetime
    created_state: str | None = None
    number: str = ""
    name: str = ""
    exten: str = ""
    operator: bool = False
    dialled: bool = False  # a DialBegin/AgentCalled/Originate targeted it
    originated: bool = False  # Asterisk dialled it with no calling channel
    rang_at: datetime | None = None
    ring: str | None = None  # None (never), "ringing", "stopped"
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None


@dataclass(slots=True)
class _Call:
    linkedid: str
    first_at: datetime
    legs: dict[str, _Leg] = field(default_factory=dict)
    queue: str | None = None
    queue_at: datetime | None = None
    variables: dict[str, str] = field(default_factory=dict)
    abandoned: bool = False
    # (at, device) of each connection with an operator; bridge_answers only as fallback
    answers: dict[str, datetime] = field(default_factory=dict)
    bridge_answers: dict[str, datetime] = field(default_factory=dict)
    announced_answers: set[str] = field(default_factory=set)
    dial_results: dict[str, str] = field(default_factory=dict)  # target uniqueid -> status
    outbound_number: tuple[datetime, str] | None = None
    originate_exten: str = ""
    originated_number: str = ""  # what Asterisk dialled for an Originate (dial string)
    transferred_at: datetime | None = None
    # uniqueids of the channels an attended transfer connected the customer to
    transfer_targets: set[str] = field(default_factory=set)
    bridges: dict[str, set[str]] = field(default_factory=dict)
    ended: bool = False
    closed_result: Result | None = None
    closed_at: datetime | None = None
    last_ended: TrackedCall | None = None


class CallTracker:
    def __init__(
        self,
        observer: CallObserver,
        *,
        default_now: Callable[[], datetime] = _utcnow,
        is_operator_device: Callable[[str], bool] | None = None,
    ) -> None:
        self._observer = observer
        self._now = default_now
        self._is_operator_device = is_operator_device
        self._members: set[str] = set()  # queue member devices seen (the default heuristic)
        self._calls: dict[str, _Call] = {}
        self._lingering: OrderedDict[str, _Call] = OrderedDict()
        self._forgotten: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------ public

    def handle(self, event: Event) -> None:
        if isinstance(event, CallEvent):
            call, new = self._call_for(event)
            if call is not None:
                self._fold(call, event, announce=new)
                self._maybe_end(call)
            self._expire(event.at)
        elif isinstance(event, QueueMemberStateChanged | QueueMemberPaused):
            if event.device is not None:
                self._members.add(event.device)
        elif isinstance(event, OriginateFinished):
            call = self._calls.get(event.uniqueid) or self._lingering.get(event.uniqueid)
            if call is not None and event.exten not in _NOT_AN_EXTEN:
                call.originate_exten = event.exten
                if call.ended:
                    self._end(call)  # the number came after the hangup: correct the record

    def live_calls(self) -> list[TrackedCall]:
        return [self._snapshot(call) for call in self._calls.values()]

    def adopt(self, events: Iterable[CallEvent]) -> set[str]:
        """Take over the calls live in the PBX that this tracker never saw start (it
        started after them, or they began while the link was down): ``events`` rebuild
        them from a resync (``ami.translate.translate_channels``). A call it tracks
        already is left alone (its own events know it better than a snapshot does),
        and so is one it remembers as ended. Returns the linkedids taken over."""
        events = list(events)
        new = {
            linkedid
            for linkedid in {event.linkedid for event in events}
            if linkedid not in self._calls
            and linkedid not in self._lingering
            and linkedid not in self._forgotten
        }
        for event in events:
            if event.linkedid in new:
                self.handle(event)
        return new

    def catch_up_answers(self, events: Iterable[CallEvent]) -> None:
        """Answers that tracked calls got while the link was down (their DialEnd and
        BridgeEnter were lost): a resync's events (``translate_channels``) say which of
        their channels are up. Only a call with no answer yet takes one, so a known
        answer's time never moves."""
        for event in events:
            if isinstance(event, DialEnded) and event.status == "answer":
                call = self._calls.get(event.linkedid)
                if call is not None and self._answer(call) is None:
                    self.handle(event)

    def reconcile(self, live_linkedids: set[str], now: datetime | None = None) -> None:
        """Close every tracked call Asterisk no longer has (after an AMI reconnect)."""
        now = now or self._now()
        for linkedid in [k for k in self._calls if k not in live_linkedids]:
            call = self._calls[linkedid]
            call.closed_at = now
            call.closed_result = "answered" if self._answer(call) else "unknown"
            for leg in call.legs.values():
                if leg.ended_at is None:
                    leg.ended_at = now
            self._stop_all_ringing(call)
            self._end(call)

    # ------------------------------------------------------------ bookkeeping

    def _call_for(self, event: CallEvent) -> tuple[_Call | None, bool]:
        linkedid = event.linkedid
        call = self._calls.get(linkedid) or self._lingering.get(linkedid)
        if call is not None:
            if event.at < call.first_at:
                call.first_at = event.at
            return call, False
        if linkedid in self._forgotten:
            return None, False
        call = _Call(linkedid, event.at)
        self._calls[linkedid] = call
        return call, True

    def _expire(self, now: datetime) -> None:
        while self._lingering:
            linkedid, call = next(iter(self._lingering.items()))
            if call.closed_at is not None and now - call.closed_at < LINGER:
                break
            del self._lingering[linkedid]
            self._forgotten[linkedid] = None
            if len(self._forgotten) > REMEMBER_ENDED:
                self._forgotten.popitem(last=False)

    def _leg(self, call: _Call, info: ChannelInfo, at: datetime) -> _Leg:
        leg = call.legs.get(info.uniqueid)
        if leg is None:
            leg = _Leg(info.uniqueid, info.name, info.device, at)
            call.legs[info.uniqueid] = leg
        elif at < leg.first_at:
            leg.first_at = at
        if info.number and not leg.number:
            leg.number, leg.name = info.number, info.caller_name
        if not leg.exten and info.exten not in _NOT_AN_EXTEN:
            leg.exten = info.exten
        if not leg.operator and info.device is not None:
            leg.operator = self._operator(info.device, info.number)
        return leg

    def _operator(self, device: str, number: str) -> bool:
        if self._is_operator_device is not None:
            return self._is_operator_device(device)
        return device in self._members or _short_extension(number)

    # ------------------------------------------------------------ folding

    def _fold(self, call: _Call, event: CallEvent, announce: bool) -> None:
        # a new call is announced once its first event's channels are known, before
        # that event rings anyone
        at = event.at
        if isinstance(event, ChannelCreated):
            leg = self._leg(call, event.channel, at)
            leg.created_state = event.channel.state
            # the caller ID at creation is the one that called; later ones are rewrites
            if event.channel.number:
                leg.number, leg.name = event.channel.number, event.channel.caller_name
            if event.channel.exten not in _NOT_AN_EXTEN:
                leg.exten = event.channel.exten
        elif isinstance(event, ChannelStateChanged):
            leg = self._leg(call, event.channel, at)
            if event.channel.state == "up" and (leg.answered_at is None or at < leg.answered_at):
                leg.answered_at = at
        elif isinstance(event, ChannelHungUp):
            leg = self._leg(call, event.channel, at)
            if leg.ended_at is None or at > leg.ended_at:
                leg.ended_at, leg.hangup_cause = at, event.cause
        elif isinstance(event, DialStarted):
            self._dial_started(call, event, announce)
            announce = False
        elif isinstance(event, DialEnded):
            self._dial_ended(call, event, announce)
            announce = False
        elif isinstance(event, AgentEvent):
            self._agent(call, event, announce)
            announce = False
        elif isinstance(event, QueueCallerJoined | QueueCallerLeft | QueueCallerAbandoned):
            self._leg(call, event.caller, at)
            if call.queue_at is None or at < call.queue_at:
                call.queue, call.queue_at = event.queue, at
            if isinstance(event, QueueCallerAbandoned):
                call.abandoned = True
        elif isinstance(event, BridgeEntered):
            self._leg(call, event.channel, at)
            members = call.bridges.setdefault(event.bridge_id, set())
            members.add(event.channel.uniqueid)
            self._bridge_answer(call, members, at, announce)
            announce = False
        elif isinstance(event, BridgeLeft):
            self._leg(call, event.channel, at)
        elif isinstance(event, BlindTransferred | AttendedTransferred):
            if event.success and (call.transferred_at is None or at < call.transferred_at):
                call.transferred_at = at
            target = event.target if isinstance(event, AttendedTransferred) else None
            if event.success and target is not None:
                call.transfer_targets.add(target.uniqueid)
        elif isinstance(event, VariableSet):
            self._leg(call, event.channel, at)
            call.variables[event.name] = event.value
        if announce:
            self._observer.call_started(self._snapshot(call))

    def _dial_started(self, call: _Call, event: DialStarted, announce: bool) -> None:
        at = event.at
        target = self._leg(call, event.target, at)
        target.dialled = True
        caller = None
        if event.caller is None:
            target.originated = True
            if not call.originated_number:
                call.originated_number = _dialled_number(None, event.dial_string)
        else:
            caller = self._leg(call, event.caller, at)
            if not target.operator and caller.operator:
                number = _dialled_number(event.caller, event.dial_string)
                if number and (call.outbound_number is None or at < call.outbound_number[0]):
                    call.outbound_number = (at, number)
        if announce:
            self._observer.call_started(self._snapshot(call))
        if target.operator:
            self._ring(call, target, at)

    def _dial_ended(self, call: _Call, event: DialEnded, announce: bool) -> None:
        at = event.at
        target = self._leg(call, event.target, at)
        target.dialled = True
        caller = self._leg(call, event.caller, at) if event.caller is not None else None
        if event.caller is None:
            target.originated = True
        call.dial_results.setdefault(target.uniqueid, event.status)
        if announce:
            self._observer.call_started(self._snapshot(call))
        if event.status == "answer":
            if target.answered_at is None or at < target.answered_at:
                target.answered_at = at
            if caller is None:
                return  # an operator picked up their own click-to-dial: not the call's answer
            if target.operator and target.device is not None:
                self._answered(call, target.device, at, call.answers)
            elif caller.operator and caller.device is not None:
                self._answered(call, caller.device, at, call.answers)  # the customer answered
        else:
            self._stop_ringing(call, target)

    def _agent(self, call: _Call, event: AgentEvent, announce: bool) -> None:
        at = event.at
        self._leg(call, event.caller, at)
        if event.device is not None:
            self._members.add(event.device)
        target = self._leg(call, event.target, at) if event.target is not None else None
        if target is not None and event.device is not None:
            target.operator = True
            target.dialled = True
        if call.queue_at is None or at < call.queue_at:
            call.queue, call.queue_at = event.queue, at
        if announce:
            self._observer.call_started(self._snapshot(call))
        if isinstance(event, AgentRinging):
            if target is not None:
                self._ring(call, target, at)
        elif isinstance(event, AgentAnswered):
            device = event.device or (target.device if target is not None else None)
            if device is not None:
                self._answered(call, device, at, call.answers)
        elif isinstance(event, AgentMissed) and target is not None:
            self._stop_ringing(call, target)

    def _bridge_answer(self, call: _Call, members: set[str], at: datetime, announce: bool) -> None:
        if announce:
            self._observer.call_started(self._snapshot(call))
        legs = [call.legs[u] for u in members if u in call.legs]
        if len(legs) < 2:
            return
        first = self._first_leg(call)
        devices = [(leg, leg.device) for leg in legs if leg.operator and leg.device]
        # the operator who is not the one who placed the call took it
        for leg, device in devices:
            if device and (leg is not first or len(devices) == 1):
                self._answered(call, device, at, call.bridge_answers)
                return

    # ------------------------------------------------------------ ringing and answers

    def _ring(self, call: _Call, leg: _Leg, at: datetime) -> None:
        if leg.rang_at is None or at < leg.rang_at:
            leg.rang_at = at
        if leg.ring is not None or leg.device is None:
            return
        if call.ended or leg.ended_at is not None or leg.device in self._ringing(call):
            leg.ring = "stopped"
            return
        leg.ring = "ringing"
        self._observer.device_ringing(self._snapshot(call), leg.device)

    def _ringing(self, call: _Call) -> set[str]:
        return {leg.device for leg in call.legs.values() if leg.ring == "ringing" and leg.device}

    def _stop_ringing(self, call: _Call, leg: _Leg, *, answered: bool = False) -> None:
        was = leg.ring
        leg.ring = "stopped"
        if was == "ringing" and leg.device is not None and not answered:
            self._observer.device_stopped_ringing(self._snapshot(call), leg.device)

    def _stop_all_ringing(self, call: _Call, except_device: str | None = None) -> None:
        for leg in list(call.legs.values()):
            if leg.ring == "ringing":
                self._stop_ringing(call, leg, answered=leg.device == except_device)

    def _answered(self, call: _Call, device: str, at: datetime, into: dict[str, datetime]) -> None:
        if device not in into or at < into[device]:
            into[device] = at
        for leg in call.legs.values():
            if leg.device == device and leg.ring == "ringing":
                leg.ring = "stopped"  # it answered: no "stopped ringing" for it
        self._stop_all_ringing(call, except_device=device)
        if device not in call.announced_answers and not call.ended:
            call.announced_answers.add(device)
            self._observer.call_answered(self._snapshot(call), device)

    def _answer(self, call: _Call) -> tuple[datetime, str] | None:
        answers = call.answers or call.bridge_answers
        if not answers:
            return None
        device, at = min(answers.items(), key=lambda item: (item[1], item[0]))
        return at, device

    # ------------------------------------------------------------ the end

    def _maybe_end(self, call: _Call) -> None:
        if call.closed_result is not None:
            return
        legs = call.legs.values()
        if not legs or any(leg.ended_at is None for leg in legs):
            return
        if any(leg.ring == "ringing" for leg in legs):
            self._stop_all_ringing(call)
        self._end(call)

    def _end(self, call: _Call) -> None:
        if not call.ended:
            call.ended = True
            self._calls.pop(call.linkedid, None)
            self._lingering[call.linkedid] = call
        snapshot = self._snapshot(call)
        if call.closed_result is None:
            call.closed_at = snapshot.ended_at
        if snapshot == call.last_ended:
            return  # a duplicate late event changed nothing
        call.last_ended = snapshot
        self._observer.call_ended(snapshot)

    # ------------------------------------------------------------ snapshot

    def _first_leg(self, call: _Call) -> _Leg | None:
        first = call.legs.get(call.linkedid)
        if first is not None:
            return first
        candidates = [leg for leg in call.legs.values() if not leg.dialled]
        return min(candidates or call.legs.values(), key=lambda leg: leg.first_at, default=None)

    def _direction(self, call: _Call, first: _Leg | None) -> Direction:
        if any(k in ORIGINATE_VARIABLES for k in call.variables):
            return "outbound"
        if first is None:
            return "inbound"
        if first.originated or first.created_state == "down":
            return "outbound"
        if first.operator:
            customers = [
                leg for leg in call.legs.values() if leg.dialled and not leg.operator and leg.device
            ]
            return "outbound" if customers else "internal"
        return "inbound"

    def _customer_leg(self, call: _Call, first: _Leg | None, direction: Direction) -> _Leg | None:
        if direction != "outbound" or first is None or not first.operator:
            return first
        dialled = [leg for leg in call.legs.values() if leg.dialled and not leg.operator]
        return min(dialled, key=lambda leg: leg.first_at, default=None)

    def _result(
        self, call: _Call, direction: Direction, customer: _Leg | None, answered: bool
    ) -> Result:
        if call.closed_result is not None:
            return call.closed_result
        if not call.ended:
            return "in_progress"
        if answered:
            return "answered"
        if call.abandoned:
            return "abandoned"
        if direction != "outbound" and any(
            leg.rang_at is not None and leg.operator for leg in call.legs.values()
        ):
            return "missed"
        statuses = [
            s
            for uid, s in call.dial_results.items()
            if direction != "outbound" or customer is None or uid == customer.uniqueid
        ]
        for status in statuses:
            if status in _DIAL_RESULTS:
                return _DIAL_RESULTS[status]
        causes = [leg.hangup_cause for leg in call.legs.values() if leg.hangup_cause is not None]
        for cause in causes:
            if cause in _CAUSE_RESULTS:
                return _CAUSE_RESULTS[cause]
        return "missed" if direction != "outbound" else "failed"

    def _moved_from(self, call: _Call) -> datetime | None:
        """Operators' legs from this moment on took the call over by a transfer.

        A blind transfer creates them after the transfer; an attended one before
        it, when the transferring operator starts the consultation: the channel
        the transfer then connects (``TransferTarget``) dates it.
        """
        starts = [call.legs[u].first_at for u in call.transfer_targets if u in call.legs]
        if call.transferred_at is not None:
            starts.append(call.transferred_at)
        return min(starts, default=None)

    def _kind(
        self,
        leg: _Leg,
        first: _Leg | None,
        customer: _Leg | None,
        moved_from: datetime | None,
    ) -> LegKind:
        if leg is customer:
            return "caller" if leg is first else "outbound"
        if leg is first:
            return "agent" if leg.operator else "caller"
        if leg.device is None:
            return "other"
        if leg.operator:
            moved = moved_from is not None and leg.first_at >= moved_from
            return "transfer" if moved else "agent"
        return "other"

    def _snapshot(self, call: _Call) -> TrackedCall:
        first = self._first_leg(call)
        direction = self._direction(call, first)
        customer = self._customer_leg(call, first, direction)
        answer = self._answer(call)
        if direction == "outbound" and first is not None and first.operator:
            number = (
                call.outbound_number[1]
                if call.outbound_number
                else call.originate_exten or (first.exten if first.exten else "")
            )
            name = customer.name if customer is not None and customer.name != number else ""
        elif direction == "outbound" and first is not None and first.originated:
            # the dialer rang the customer first: that channel's caller ID is our own
            number = call.originated_number or call.originate_exten or first.number
            name = ""
        else:
            number = first.number if first is not None else ""
            name = first.name if first is not None else ""
        did = call.variables.get(DID_VARIABLE)
        if did is None and direction != "outbound" and first is not None:
            did = first.exten or None
        legs = sorted(call.legs.values(), key=lambda leg: (leg.first_at, leg.uniqueid))
        rang = sorted(
            (leg for leg in legs if leg.rang_at is not None and leg.operator and leg.device),
            key=lambda leg: leg.rang_at or call.first_at,
        )
        rang_devices = tuple(dict.fromkeys(leg.device for leg in rang if leg.device))
        ended_at = None
        if call.closed_result is not None:
            ended_at = call.closed_at
        elif call.ended:
            ended_at = max((leg.ended_at for leg in legs if leg.ended_at), default=None)
        cause_leg = customer or first
        moved_from = self._moved_from(call)
        return TrackedCall(
            linkedid=call.linkedid,
            direction=direction,
            started_at=call.first_at,
            caller_number=number,
            caller_name=name,
            did=did,
            queue=call.queue,
            rang_devices=rang_devices,
            ringing_devices=tuple(sorted(self._ringing(call))),
            answered_device=answer[1] if answer else None,
            answered_at=answer[0] if answer else None,
            ended_at=ended_at,
            result=self._result(call, direction, customer, answer is not None),
            hangup_cause=cause_leg.hangup_cause if cause_leg is not None else None,
            legs=tuple(
                LegSnapshot(
                    uniqueid=leg.uniqueid,
                    channel=leg.channel,
                    device=leg.device,
                    kind=self._kind(leg, first, customer, moved_from),
                    rang_at=leg.rang_at,
                    answered_at=leg.answered_at,
                    ended_at=leg.ended_at,
                    hangup_cause=leg.hangup_cause,
                )
                for leg in legs
            ),
            variables=dict(call.variables),
        )
