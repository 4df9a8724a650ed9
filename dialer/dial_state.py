"""What a pacer is told: the campaign's dialling settings, a snapshot of the floor, outcomes.

Times are plain seconds on one clock the caller chooses (the engine: epoch seconds;
the simulator: simulated seconds). Nothing here reads a clock or does I/O, so the
same pacing code runs in the engine and in the simulation.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.models.campaigns import AbandonWindow, DialMode

ABANDON_WINDOW_SECONDS = {AbandonWindow.DAY: 24 * 3600.0, AbandonWindow.MONTH: 30 * 24 * 3600.0}

# an answered call that finds no operator free within this many seconds is abandoned
ABANDON_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class PacingSettings:
    """The campaign settings pacing depends on (see ``callcenter.models.Campaign``)."""

    mode: DialMode
    target_abandon_rate: float = 0.03
    abandon_window: AbandonWindow = AbandonWindow.DAY
    lines_per_operator: float = 1.0  # power mode: lines per ready operator
    max_lines: int | None = None  # never more calls ringing or waiting at once


@dataclass(frozen=True, slots=True)
class DialerState:
    """The floor at one moment. Operators who are paused or logged out are not in it."""

    now: float
    ready_operators: int
    talking_since: Sequence[float]  # start of each talking operator's call
    wrapping_since: Sequence[float]  # start of each operator's wrap-up
    ringing_since: Sequence[float]  # dial time of each call not yet answered or failed
    waiting_calls: int = 0  # answered, waiting (at most the grace) for an operator
    answered_in_window: int = 0  # answered by a person over the abandon window
    abandoned_in_window: int = 0  # of which found no operator

    @property
    def operators(self) -> int:
        return self.ready_operators + len(self.talking_since) + len(self.wrapping_since)

    @property
    def calls_in_flight(self) -> int:
        return len(self.ringing_since) + self.waiting_calls


class OutcomeKind(enum.StrEnum):
    ANSWERED = "answered"  # seconds: from dialling to the answer
    FAILED = "failed"  # no answer, busy, congestion; seconds: from dialling to the end
    ABANDONED = "abandoned"  # an answered call found no operator; seconds: it waited
    TALK = "talk"  # seconds: an operator's conversation
    WRAP = "wrap"  # seconds: an operator's wrap-up after the call


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    seconds: float
    at: float  # when it happened
