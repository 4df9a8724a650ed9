"""What our predictive pacing is compared with in the ``dialer_simulation`` benchmark.

- The Erlang-B pacing floor: the occupancy a dialer gets when it places calls at a
  steady rate dimensioned by the Erlang loss formula, never looking at the floor.
  Answered calls then arrive as a Poisson stream of offered load ``A`` (erlangs, one
  erlang = one operator busy with talk + wrap-up); a call that finds all ``N``
  operators busy is lost (abandoned), with probability ``B(N, A)``. Choose the largest
  ``A`` with ``B(N, A)`` = the target abandon rate (bisection; ``B`` from the usual
  recursion ``B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))``); the operators then carry
  ``A (1 - B)`` erlangs, so occupancy = ``A (1 - B) / N``. For 3% this gives 67.9% at
  N = 20 (A = 14.00) and 88.1% at N = 100 (A = 90.79). ``ErlangPacer`` is that dialer
  run in the simulation: Poisson dials at ``A / (p (T + W))`` per second.
- VICIdial's ADAPT_TAPERED dial-level adaptation (``AdaptTaperedPacer``).
"""

from __future__ import annotations

import random
from collections import deque

from dialer.dial_state import DialerState, Outcome, OutcomeKind


def erlang_b(servers: int, load: float) -> float:
    """The Erlang loss probability for ``load`` erlangs offered to ``servers`` servers."""
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def erlang_b_load(servers: int, loss: float) -> float:
    """The offered load (erlangs) at which ``servers`` servers lose ``loss`` of the calls."""
    low, high = 0.0, float(servers) * 10.0
    for _ in range(100):
        middle = (low + high) / 2.0
        if erlang_b(servers, middle) > loss:
            high = middle
        else:
            low = middle
    return low


def erlang_b_occupancy(servers: int, loss: float) -> float:
    """The Erlang-B pacing floor: carried load per server at the given loss."""
    load = erlang_b_load(servers, loss)
    return load * (1.0 - erlang_b(servers, load)) / servers


class ErlangPacer:
    """Dials a Poisson stream at the Erlang-B rate; knows the averages, never looks at the floor."""

    def __init__(
        self, operators: int, loss: float, answer_rate: float, work_seconds: float, seed: int
    ) -> None:
        load = erlang_b_load(operators, loss)
        self.rate = load / (answer_rate * work_seconds)  # dials per second
        self._random = random.Random(seed)
        self._next = self._random.expovariate(self.rate)

    def learn(self, outcome: Outcome) -> None:
        pass

    def calls_to_place(self, state: DialerState) -> int:
        due = 0
        while self._next <= state.now:
            due += 1
            self._next += self._random.expovariate(self.rate)
        return due


class AdaptTaperedPacer:
    """VICIdial's ADAPT_TAPERED, re-implemented from a reading of its Perl sources.

    Sources read (VICIdial 2.4 as mirrored in github inktel/Vicidial): ``bin/AST_VDadapt.pl``
    (``count_agents_lines``, ``calculate_drops``, ``calculate_dial_level``) and the
    ``goalcalls`` arithmetic of ``bin/AST_VDauto_dial.pl``. No code is copied; the rules:

    - once a second, sample ready agents, answered calls waiting for an agent, and
      logged-in agents; keep the last 15 samples;
    - every 15 s: differential = mean ready - mean waiting; the dial level becomes
      ``level x (1 + differential / mean agents)`` (intensity 0, no differential
      target), capped at the maximum level (3.0 by default) and at least 1.0;
    - drop statistics are refreshed every 60 s. If more than 20 calls in the last
      minute and over 50% of them dropped, halve the level. If more than 50 calls today
      and drops / answers today exceed the target: ADAPT_TAPERED multiplies the level by
      ``hours left until the latest target time / 10`` (its HHMM difference / 1000,
      capped at 1: with ten or more hours left a drop overrun changes nothing), or sets
      it to 1.0 once that time has passed;
    - the auto-dialler places ``round(level x agents) - calls in progress``, where
      agents are the ready and talking ones (agents in wrap-up are paused in VICIdial)
      and calls in progress count ringing, waiting and talking calls.

    "Today" is the run (one shift); the latest target time is the shift's end.
    """

    SAMPLES = 15
    LEVEL_EVERY = 15.0
    DROPS_EVERY = 60.0

    def __init__(self, shift_end: float, drop_target: float = 0.03, max_level: float = 3.0) -> None:
        self.shift_end = shift_end
        self.drop_target = drop_target
        self.max_level = max_level
        self.level = 1.0
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=self.SAMPLES)
        self._next_sample: float | None = None  # the clocks start at the first call
        self._next_level = self._next_drops = 0.0
        self._last_minute: deque[tuple[float, bool]] = deque()  # (when, dropped)
        self._calls = self._answers = self._drops = 0
        # the figures as of the last 60-second refresh
        self._calls_minute = self._drops_minute = 0
        self._calls_today = self._answers_today = self._drops_today = 0

    def learn(self, outcome: Outcome) -> None:
        if outcome.kind in (OutcomeKind.ANSWERED, OutcomeKind.FAILED):
            self._calls += 1
            self._answers += outcome.kind is OutcomeKind.ANSWERED
            self._last_minute.append((outcome.at, False))
        elif outcome.kind is OutcomeKind.ABANDONED:
            self._drops += 1
            self._last_minute.append((outcome.at, True))

    def calls_to_place(self, state: DialerState) -> int:
        now = state.now
        if self._next_sample is None:
            self._next_sample = self._next_drops = now
            self._next_level = now + self.LEVEL_EVERY
        if self._next_sample <= now:
            self._samples.append((state.ready_operators, state.waiting_calls, state.operators))
            self._next_sample = now + 1.0
        if self._next_drops <= now:
            self._refresh_drops(now)
            self._next_drops = now + self.DROPS_EVERY
        if self._next_level <= now:
            self._adapt(now)
            self._next_level = now + self.LEVEL_EVERY
        talking = len(state.talking_since)
        goal = round(self.level * (state.ready_operators + talking))
        return max(0, goal - state.calls_in_flight - talking)

    def _refresh_drops(self, now: float) -> None:
        while self._last_minute and self._last_minute[0][0] < now - 60.0:
            self._last_minute.popleft()
        self._drops_minute = sum(dropped for _, dropped in self._last_minute)
        self._calls_minute = len(self._last_minute) - self._drops_minute
        self._calls_today, self._answers_today = self._calls, self._answers
        self._drops_today = self._drops

    def _adapt(self, now: float) -> None:
        if not self._samples:
            return
        count = len(self._samples)
        ready = sum(s[0] for s in self._samples) / count
        waiting = sum(s[1] for s in self._samples) / count
        agents = sum(s[2] for s in self._samples) / count
        if agents <= 0:
            return
        level = min(self.max_level, self.level * (1.0 + (ready - waiting) / agents))
        level = max(1.0, level)
        if self._calls_minute > 20 and self._drops_minute / self._calls_minute > 0.5:
            level /= 2.0
        answers = max(1, self._answers_today)
        if self._calls_today > 50 and self._drops_today / answers > self.drop_target:
            hours_left = (self.shift_end - now) / 3600.0
            level = 1.0 if hours_left < 0 else level * min(1.0, hours_left / 10.0)
        self.level = max(1.0, level)
