"""What the call tracker tells the rest of the product, independent of Asterisk.

The tracker (``callcenter.tracker``) folds typed telephony events into one
``TrackedCall`` per Asterisk ``Linkedid`` and tells a ``CallObserver`` what
changed. Observers (call log, screen-pop hub, missed-call loop) only read the
snapshots they are given; they never see AMI headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from callcenter.events import OriginateFinished

Direction = Literal["inbound", "outbound", "internal"]
# values of calls.result in the database
Result = Literal[
    "in_progress",
    "answered",
    "abandoned",  # the caller hung up while waiting in a queue
    "missed",  # rang operators, nobody answered (and not a queue abandon)
    "busy",
    "no_answer",
    "congestion",
    "failed",
    "unknown",  # closed by reconciliation after an AMI outage
]
LegKind = Literal["caller", "agent", "transfer", "outbound", "spy", "other"]


@dataclass(frozen=True)
class LegSnapshot:
    uniqueid: str
    channel: str
    device: str | None
    """The phone, e.g. ``PJSIP/op101`` (channel name without the ``-0000001a`` suffix)."""
    kind: LegKind
    rang_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None


@dataclass(frozen=True)
class TrackedCall:
    linkedid: str
    direction: Direction
    started_at: datetime
    caller_number: str
    """As Asterisk presented it (raw); the E.164 form is the lookup's business."""
    caller_name: str
    did: str | None = None
    queue: str | None = None
    rang_devices: tuple[str, ...] = ()
    """Every operator device that rang for this call, in order, without repeats."""
    ringing_devices: tuple[str, ...] = ()
    """Devices ringing right now."""
    answered_device: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    result: Result = "in_progress"
    hangup_cause: int | None = None
    legs: tuple[LegSnapshot, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    """Channel variables named CALLCENTER_* (campaign and lead ids, DID)."""

    @property
    def wait_seconds(self) -> float | None:
        """From start until answer (or until the end, for calls never answered)."""
        until = self.answered_at or self.ended_at
        return None if until is None else max(0.0, (until - self.started_at).total_seconds())

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())


class CallObserver(Protocol):
    """Told by the tracker, in event order, what happened to a call."""

    def call_started(self, call: TrackedCall) -> None: ...

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        """``device`` started ringing for ``call``: the moment of the screen-pop."""

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        """It stopped without answering (someone else answered, timeout, caller gone)."""

    def call_answered(self, call: TrackedCall, device: str) -> None: ...

    def call_ended(self, call: TrackedCall) -> None: ...


class CallFollower(CallObserver, Protocol):
    """An observer that also hears how Originates ended and when the link came back
    (the dialer engine). Like every observer it only records: it never blocks."""

    def originate_finished(self, event: OriginateFinished) -> None: ...

    def resynced(self, live_linkedids: set[str], taken_at: datetime) -> None:
        """The AMI link (re)connected; these calls were live in the PBX at ``taken_at``."""


class CallObservers:
    """Several observers as one, told in order (the call log first, then the pops)."""

    def __init__(self, observers: list[CallObserver]) -> None:
        self._observers = observers

    def add(self, observer: CallObserver) -> None:
        self._observers.append(observer)

    def call_started(self, call: TrackedCall) -> None:
        for observer in self._observers:
            observer.call_started(call)

    def device_ringing(self, call: TrackedCall, device: str) -> None:
        for observer in self._observers:
            observer.device_ringing(call, device)

    def device_stopped_ringing(self, call: TrackedCall, device: str) -> None:
        for observer in self._observers:
            observer.device_stopped_ringing(call, device)

    def call_answered(self, call: TrackedCall, device: str) -> None:
        for observer in self._observers:
            observer.call_answered(call, device)

    def call_ended(self, call: TrackedCall) -> None:
        for observer in self._observers:
            observer.call_ended(call)
