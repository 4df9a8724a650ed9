"""What the dialer has learned about one campaign's calls, from its own outcomes.

Answer rate, time to answer, time to failure, talk and wrap-up times are each kept as
the last few hundred observations (so the estimates follow a list that changes during
the day) on top of a small prior that only matters for the first minutes of a
campaign. Nothing here knows the simulator's constants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from dialer.dial_state import Outcome, OutcomeKind

MEMORY = 500  # observations kept per quantity


class RecentDurations:
    """The last ``MEMORY`` observations of one duration, counted in fixed-width bins.

    ``prior`` values carry ``prior_weight`` observations in all, spread evenly.
    """

    def __init__(
        self, width: float, limit: float, prior: Iterable[float], prior_weight: float
    ) -> None:
        self.width = width
        self.size = int(limit / width) + 1
        self._counts = [0.0] * self.size
        values = list(prior)
        for value in values:
            self._counts[self.bin(value)] += prior_weight / len(values)
        self._recent: deque[int] = deque(maxlen=MEMORY)

    def bin(self, seconds: float) -> int:
        return min(self.size - 1, max(0, int(seconds / self.width)))

    def add(self, seconds: float) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._counts[self._recent[0]] -= 1
        index = self.bin(seconds)
        self._recent.append(index)
        self._counts[index] += 1

    def survival(self) -> list[float]:
        """``s[i]`` = share of observations at least ``i * width`` long; one past the end is 0."""
        total = sum(self._counts)
        tail = 0.0
        result = [0.0] * (self.size + 1)
        for index in range(self.size - 1, -1, -1):
            tail += self._counts[index]
            result[index] = tail / total
        return result

    def mean(self) -> float:
        total = sum(self._counts)
        return sum((i + 0.5) * self.width * c for i, c in enumerate(self._counts)) / total


class OutcomeModel:
    """Online estimates for one campaign; ``version`` changes when they are worth re-reading."""

    # prior for the answer rate: 20 attempts' worth at 30%
    PRIOR_ATTEMPTS = 20.0
    PRIOR_ANSWER_RATE = 0.3
    REFRESH_EVERY = 25  # observations between two refreshes of derived tables

    def __init__(self) -> None:
        # people answer after two to four rings; failures end between the ring timeout
        # (at least 15 s) and half a minute; a talk is minutes; a wrap-up tens of seconds
        self.answer_delay = RecentDurations(1.0, 120.0, range(4, 16), 10.0)
        self.failure_delay = RecentDurations(1.0, 120.0, range(15, 31), 10.0)
        self.talk = RecentDurations(5.0, 7200.0, range(30, 300, 5), 10.0)
        self.wrap = RecentDurations(1.0, 600.0, range(5, 40), 5.0)
        self._attempts: deque[bool] = deque(maxlen=MEMORY)
        self._observations = 0
        self.version = 0

    @property
    def answer_rate(self) -> float:
        answered = sum(self._attempts) + self.PRIOR_ANSWER_RATE * self.PRIOR_ATTEMPTS
        return answered / (len(self._attempts) + self.PRIOR_ATTEMPTS)

    def learn(self, outcome: Outcome) -> None:
        if outcome.kind is OutcomeKind.ANSWERED:
            self._attempts.append(True)
            self.answer_delay.add(outcome.seconds)
        elif outcome.kind is OutcomeKind.FAILED:
            self._attempts.append(False)
            self.failure_delay.add(outcome.seconds)
        elif outcome.kind is OutcomeKind.TALK:
            self.talk.add(outcome.seconds)
        elif outcome.kind is OutcomeKind.WRAP:
            self.wrap.add(outcome.seconds)
        else:
            return
        self._observations += 1
        if self._observations % self.REFRESH_EVERY == 0:
            self.version += 1
