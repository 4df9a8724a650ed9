"""The engine's calls in flight, and what each one's end means for its attempt.

A flight is one Originate the engine sent, keyed by the attempt's action id (the
ActionID of the Originate and the ``CALLCENTER_ATTEMPT`` variable of every leg).
The call's events fill it in; ``verdict`` says when its outcome is known. Pure:
times are epoch seconds given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.dialer_calls import RESULT_VARIABLE
from callcenter.models import AttemptOutcome
from callcenter.tracking import TrackedCall
from dialer.results import outcome_from_hangup_cause, outcome_from_originate_reason

# an Originate that failed with no channel sends no Hangup: its reason is all there is
FAILED_ORIGINATE_WAIT = 3.0
# a call not answered this long after its ring time has lost its events somewhere
LOST_AFTER_RING = 60.0

_TRACKER_RESULTS: dict[str, AttemptOutcome] = {
    "busy": AttemptOutcome.BUSY,
    "no_answer": AttemptOutcome.NO_ANSWER,
    "congestion": AttemptOutcome.CONGESTION,
    "unknown": AttemptOutcome.UNKNOWN,
}


@dataclass
class Flight:
    attempt_id: int
    action_id: str
    campaign_id: int
    lead_id: int
    placed_at: float
    ring_seconds: float
    answered_at: float | None = None  # the customer picked up
    connected_at: float | None = None  # an operator took the call
    device: str | None = None  # that operator's phone
    failed_reason: int | None = None  # the OriginateResponse said it failed
    failed_at: float | None = None
    ended: TrackedCall | None = None
    ended_at: float | None = None
    lost: bool = False  # the AMI link went away while it was in flight

    @property
    def ringing(self) -> bool:
        return self.answered_at is None and self.ended is None

    @property
    def waiting(self) -> bool:
        """Answered, not yet with an operator: the abandon clock runs."""
        return self.answered_at is not None and self.connected_at is None and self.ended is None

    def verdict(self, now: float) -> AttemptOutcome | None:
        """The attempt's outcome once it is known, else None."""
        if self.lost:
            return AttemptOutcome.UNKNOWN
        if self.ended is not None:
            return outcome_of_call(self.ended, answered=self.answered_at is not None)
        if self.failed_at is not None and now - self.failed_at >= FAILED_ORIGINATE_WAIT:
            return outcome_from_originate_reason(self.failed_reason or 0)
        if self.answered_at is None and now - self.placed_at > self.ring_seconds + LOST_AFTER_RING:
            return AttemptOutcome.UNKNOWN
        return None


def outcome_of_call(call: TrackedCall, *, answered: bool = False) -> AttemptOutcome:
    """The outcome of a dialer call that ended (``answered``: the Originate said so)."""
    said = call.variables.get(RESULT_VARIABLE)
    if said == "machine":
        return AttemptOutcome.MACHINE
    if call.answered_device is not None:
        return AttemptOutcome.ANSWERED
    if said == "abandoned" or call.result == "abandoned":
        return AttemptOutcome.ABANDONED
    if call.result == "unknown":
        return AttemptOutcome.UNKNOWN
    customer = next((leg for leg in call.legs if leg.kind == "caller"), None)
    if answered or (customer is not None and customer.answered_at is not None):
        # picked up and hung up before the queue: they heard nothing from us
        return AttemptOutcome.ABANDONED if call.queue else AttemptOutcome.NO_ANSWER
    if call.hangup_cause is not None:
        return outcome_from_hangup_cause(call.hangup_cause, answered=False)
    return _TRACKER_RESULTS.get(call.result, AttemptOutcome.FAILED)
