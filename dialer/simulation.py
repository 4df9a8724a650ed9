"""A discrete-event simulation of an outbound campaign, to measure any pacer on simulated time.

N operators work an endless lead list. Every dialled lead is, independently, answered
by a person with probability ``answer_rate`` after a ring time drawn from a gamma
distribution around ``answer_delay`` (shape 6: a standard deviation of about a third of
the mean, cut below the failure time), or else fails after ``failure_after`` seconds
(no answer, the ring timeout being at least 15 s). An answered call goes to the
operator who has been ready longest; if none is ready it waits up to
``ABANDON_GRACE_SECONDS`` for one to come free, and is otherwise abandoned (the
customer hears the recorded message; it is logged as abandoned). Talk times are
lognormal with mean ``talk_mean`` and sigma 0.8 (a median of about 88 s for a 120 s
mean: most calls short, a long tail), then a fixed ``wrap`` of after-call work.

Each lead's fate (answered or not, ring time, talk time) comes from a random stream
seeded per run and drawn in dialling order, so two pacers run with the same seed face
the same leads (common random numbers). The pacer is asked how many calls to place
after every event and on a tick every ``tick`` seconds, and is told every outcome.

Measured after a warm-up (the floor starts with every operator idle and nothing
learned; the closed forms describe the steady state): occupancy = (talk + wrap time) /
(operators x time); abandon rate = abandoned / answered; connected calls and dials per
operator-hour.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass

from dialer.dial_state import ABANDON_GRACE_SECONDS, DialerState, Outcome, OutcomeKind
from dialer.pacing import Pacer

ANSWER_DELAY_SHAPE = 6.0
TALK_SIGMA = 0.8


@dataclass(frozen=True)
class SimulatedCampaign:
    operators: int
    answer_rate: float = 0.25
    answer_delay: float = 8.0  # mean seconds from dialling to a person's answer
    failure_after: float = 25.0  # seconds an unanswered attempt takes
    talk_mean: float = 120.0
    wrap: float = 20.0
    hours: float = 8.0  # measured, after the warm-up
    warmup: float = 600.0  # seconds simulated before measuring: the floor starts all idle
    tick: float = 1.0
    abandon_window: float = 24 * 3600.0


@dataclass(frozen=True)
class SimulationResult:
    operators: int
    hours: float
    dialled: int
    answered: int
    abandoned: int
    connected: int
    busy_seconds: float

    @property
    def occupancy(self) -> float:
        return self.busy_seconds / (self.operators * self.hours * 3600.0)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0

    @property
    def calls_per_operator_hour(self) -> float:
        return self.connected / (self.operators * self.hours)

    @property
    def dials_per_operator_hour(self) -> float:
        return self.dialled / (self.operators * self.hours)


@dataclass(frozen=True, slots=True)
class Lead:
    answers: bool
    ring_seconds: float
    talk_seconds: float


class LeadList:
    """An endless list of leads whose fates are fixed by the seed, in dialling order."""

    def __init__(self, campaign: SimulatedCampaign, seed: int) -> None:
        self._random = random.Random(seed)  # noqa: S311 - a reproducible simulation, no secret
        self._campaign = campaign
        self._talk_mu = math.log(campaign.talk_mean) - TALK_SIGMA**2 / 2.0

    def next(self) -> Lead:
        c, r = self._campaign, self._random
        answers = r.random() < c.answer_rate
        delay = r.gammavariate(ANSWER_DELAY_SHAPE, c.answer_delay / ANSWER_DELAY_SHAPE)
        talk = r.lognormvariate(self._talk_mu, TALK_SIGMA)
        ring = min(max(delay, 1.0), c.failure_after - 1.0) if answers else c.failure_after
        return Lead(answers, ring, talk)


# event kinds, in the order they are handled when they fall at the same moment
WRAP_END, TALK_END, ANSWER, FAILURE, GRACE_END, TICK = range(6)


class _Run:
    def __init__(self, campaign: SimulatedCampaign, pacer: Pacer, seed: int) -> None:
        self.c = campaign
        self.pacer = pacer
        self.leads = LeadList(campaign, seed)
        self.start = campaign.warmup
        self.end = campaign.warmup + campaign.hours * 3600.0
        self.events: list[tuple[float, int, int, int]] = []
        self.sequence = 0
        self.free: deque[int] = deque(range(campaign.operators))  # longest ready first
        self.talking: dict[int, float] = {}
        self.wrapping: dict[int, float] = {}
        self.ringing: dict[int, float] = {}
        self.ring_leads: dict[int, Lead] = {}
        self.waiting: dict[int, float] = {}  # call -> answered at (dicts keep order: FIFO)
        self.talk_of: dict[int, float] = {}  # call -> its talk time, once answered
        self.answers_in_window: deque[float] = deque()
        self.abandons_in_window: deque[float] = deque()
        self.calls = 0
        # measured after the warm-up only
        self.dialled = self.answered = self.abandoned = self.connected = 0
        self.busy_seconds = 0.0

    def schedule(self, at: float, kind: int, ident: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at, kind, self.sequence, ident))

    def run(self) -> SimulationResult:
        self.schedule(0.0, TICK, 0)
        while self.events:
            now = self.events[0][0]
            if now >= self.end:
                break
            while self.events and self.events[0][0] == now:
                _, kind, _, ident = heapq.heappop(self.events)
                self.handle(now, kind, ident)
            self.place(now, self.pacer.calls_to_place(self.state(now)))
        return SimulationResult(
            self.c.operators,
            self.c.hours,
            self.dialled,
            self.answered,
            self.abandoned,
            self.connected,
            self.busy_seconds,
        )

    def handle(self, now: float, kind: int, ident: int) -> None:
        if kind == TICK:
            self.schedule(now + self.c.tick, TICK, 0)
        elif kind == ANSWER:
            dialled_at = self.ringing.pop(ident)
            lead = self.ring_leads.pop(ident)
            self.pacer.learn(Outcome(OutcomeKind.ANSWERED, now - dialled_at, now))
            self.answered += now >= self.start
            self.answers_in_window.append(now)
            self.talk_of[ident] = lead.talk_seconds
            if self.free:
                self.connect(now, self.free.popleft(), ident)
            else:
                self.waiting[ident] = now
                self.schedule(now + ABANDON_GRACE_SECONDS, GRACE_END, ident)
        elif kind == FAILURE:
            dialled_at = self.ringing.pop(ident)
            del self.ring_leads[ident]
            self.pacer.learn(Outcome(OutcomeKind.FAILED, now - dialled_at, now))
        elif kind == GRACE_END:
            if self.waiting.pop(ident, None) is not None:
                del self.talk_of[ident]
                self.abandoned += now >= self.start
                self.abandons_in_window.append(now)
                self.pacer.learn(Outcome(OutcomeKind.ABANDONED, ABANDON_GRACE_SECONDS, now))
        elif kind == TALK_END:
            started = self.talking.pop(ident)
            self.pacer.learn(Outcome(OutcomeKind.TALK, now - started, now))
            self.wrapping[ident] = now
            self.schedule(now + self.c.wrap, WRAP_END, ident)
        elif kind == WRAP_END:
            started = self.wrapping.pop(ident)
            self.pacer.learn(Outcome(OutcomeKind.WRAP, now - started, now))
            if self.waiting:
                call = next(iter(self.waiting))
                del self.waiting[call]
                self.connect(now, ident, call)
            else:
                self.free.append(ident)

    def connect(self, now: float, operator: int, call: int) -> None:
        talk = self.talk_of.pop(call)
        self.connected += now >= self.start
        self.talking[operator] = now
        measured = min(now + talk + self.c.wrap, self.end) - max(now, self.start)
        self.busy_seconds += max(0.0, measured)
        self.schedule(now + talk, TALK_END, operator)

    def place(self, now: float, count: int) -> None:
        for _ in range(count):
            self.calls += 1
            self.dialled += now >= self.start
            call = self.calls
            lead = self.leads.next()
            self.ringing[call] = now
            self.ring_leads[call] = lead
            self.schedule(now + lead.ring_seconds, ANSWER if lead.answers else FAILURE, call)

    def state(self, now: float) -> DialerState:
        horizon = now - self.c.abandon_window
        while self.answers_in_window and self.answers_in_window[0] < horizon:
            self.answers_in_window.popleft()
        while self.abandons_in_window and self.abandons_in_window[0] < horizon:
            self.abandons_in_window.popleft()
        return DialerState(
            now=now,
            ready_operators=len(self.free),
            talking_since=tuple(self.talking.values()),
            wrapping_since=tuple(self.wrapping.values()),
            ringing_since=tuple(self.ringing.values()),
            waiting_calls=len(self.waiting),
            answered_in_window=len(self.answers_in_window),
            abandoned_in_window=len(self.abandons_in_window),
        )


def simulate(campaign: SimulatedCampaign, pacer: Pacer, seed: int) -> SimulationResult:
    """Run one campaign for ``campaign.hours`` of simulated time with ``pacer``."""
    return _Run(campaign, pacer, seed).run()


def progressive_occupancy(campaign: SimulatedCampaign) -> float:
    """The closed form for progressive dialling: (T + W) / (T + W + (1/p - 1) D_fail + D_ans).

    Each operator, once ready, waits on average (1/p - 1) failed attempts and one
    answered one before the next talk.
    """
    work = campaign.talk_mean + campaign.wrap
    waiting = (1.0 / campaign.answer_rate - 1.0) * campaign.failure_after + campaign.answer_delay
    return work / (work + waiting)
