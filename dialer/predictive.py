"""Predictive pacing: as many calls as the abandon budget allows, placed where they are least risky.

The model. Look ``HORIZON`` seconds ahead. Every call now ringing is answered within
``k`` seconds with a probability that follows from its age and the campaign's learned
answer rate, time to answer and time to failure (a call that has rung 20 s without an
answer is less likely to be answered than a fresh one). Every busy operator is free
again within ``k`` seconds with a probability that follows from how long they have
been talking or wrapping up and the learned talk and wrap-up times (wrap-up is nearly
fixed, so an operator in wrap-up is a near-certain free operator soon). So for each
``k`` the shortfall ``X_k`` = (calls waiting now + calls answered within ``k``) -
(operators ready now + operators free within ``k`` + grace) is a sum of independent
yes/no events with a known mean and variance; read it as normal. A call answered when
the shortfall is positive finds no operator: the expected number of abandoned calls is
estimated as the largest ``E[max(X_k, 0)]`` over ``k``.

The budget. Over the rolling window the campaign may abandon ``target x answered``
calls. Savings = ``aim x (answered so far + answers expected from the calls in flight)
- abandoned so far - abandons expected from the calls in flight``, with ``aim`` a little
under the target so that forecasting error does not spend it twice. Each extra call is
worth ``aim x`` its answer probability and costs the rise in expected abandons it
causes; calls are added one at a time while that cost, as a share of the call's answer
probability, stays under ``marginal_risk(savings)``: tiny with nothing saved, growing
e-fold with every ``RISK_GROWTH`` abandons saved. So the pacer takes the safest calls
first and becomes bolder only as the campaign runs under its target, and a saved budget
is spent steadily, not in one burst. The forecast's own errors (reading a sum of yes/no
events as normal, taking the largest ``k`` rather than the whole path) are corrected by
the realised counts in the savings.

Once the rolling abandon rate is over the target the budget is spent: only calls that
cannot be abandoned are placed (no more calls in flight than ready operators: each
answer is certain to find one), as in progressive mode, until answered calls bring the
rate back under the target.
"""

from __future__ import annotations

import math
from collections import Counter

from dialer.dial_state import ABANDON_GRACE_SECONDS, DialerState, PacingSettings
from dialer.outcome_model import OutcomeModel

HORIZON = 30  # seconds looked ahead: answers come within the ring timeout
GRACE = int(ABANDON_GRACE_SECONDS)
AIM = 0.9  # share of the target abandon rate the forecast may plan for
# the largest share of an extra call's answers that may be abandoned: tiny with no
# savings, growing e-fold with every RISK_GROWTH abandons' worth of budget saved
RISK_WITHOUT_SAVINGS = 0.002
RISK_GROWTH = 6.0
RISK_CAP = 0.25
TALK_STEP = 10.0  # talking operators are grouped by the time they have talked, to this step
LINES_PER_OPERATOR_CAP = 10  # a sanity limit when the campaign sets no max_lines

Curve = tuple[list[float], list[float]]  # probabilities by second, and p * (1 - p)


def _with_variance(probabilities: list[float]) -> Curve:
    return probabilities, [p * (1.0 - p) for p in probabilities]


def _at(survival: list[float], index: int) -> float:
    return survival[index] if index < len(survival) else 0.0


def _interpolated(survival: list[float], width: float, seconds: float) -> float:
    position = max(0.0, seconds / width)
    index = int(position)
    share = position - index
    return _at(survival, index) * (1.0 - share) + _at(survival, index + 1) * share


class Forecast:
    """Probabilities over the next ``HORIZON`` seconds, from one version of the model."""

    def __init__(self, model: OutcomeModel) -> None:
        self.version = model.version
        self.answer_rate = model.answer_rate
        self._answer = model.answer_delay.survival()
        self._failure = model.failure_delay.survival()
        self.talk_width = model.talk.width
        self._talk_survival = model.talk.survival()
        self._wrap = model.wrap.survival()
        self._wrap_seconds = model.wrap.mean()
        self._answered: dict[int, Curve] = {}
        self._after_wrap: dict[int, Curve] = {}
        self._after_talk: dict[int, Curve] = {}

    def answered_within(self, age: int) -> Curve:
        """For a call that has rung ``age`` s: P(answered within k s), k = 0..HORIZON."""
        if age not in self._answered:
            p = self.answer_rate
            answer_left = _at(self._answer, age)
            alive = p * answer_left + (1.0 - p) * _at(self._failure, age)
            curve = [0.0] * (HORIZON + 1)
            if alive > 0.0:
                for k in range(1, HORIZON + 1):
                    curve[k] = p * (answer_left - _at(self._answer, age + k)) / alive
            self._answered[age] = _with_variance(curve)
        return self._answered[age]

    def free_after_wrap(self, elapsed: int) -> Curve:
        """For an operator ``elapsed`` s into wrap-up: P(free within k s), k = 0..HORIZON+GRACE."""
        if elapsed not in self._after_wrap:
            left = _at(self._wrap, elapsed)
            curve = [0.0] * (HORIZON + GRACE + 1)
            for k in range(1, len(curve)):
                # a wrap-up longer than any seen ends any moment now
                curve[k] = 1.0 - _at(self._wrap, elapsed + k) / left if left > 0.0 else 1.0
            self._after_wrap[elapsed] = _with_variance(curve)
        return self._after_wrap[elapsed]

    def free_after_talk(self, elapsed: float) -> Curve:
        """For an operator ``elapsed`` s into a call: P(free within k s), k = 0..HORIZON+GRACE.

        The talk's remaining time from the learned talk times beyond ``elapsed``, then an
        average wrap-up.
        """
        key = int(elapsed // TALK_STEP)
        if key not in self._after_talk:
            start = key * TALK_STEP
            left = _interpolated(self._talk_survival, self.talk_width, start)
            curve = [0.0] * (HORIZON + GRACE + 1)
            if left > 0.0:
                for k in range(1, len(curve)):
                    talk_left = k - self._wrap_seconds
                    if talk_left > 0:
                        ended = _interpolated(
                            self._talk_survival, self.talk_width, start + talk_left
                        )
                        curve[k] = 1.0 - ended / left
            self._after_talk[key] = _with_variance(curve)
        return self._after_talk[key]


def _add(total: list[float], curve: list[float], times: float, offset: int = 0) -> None:
    total[:] = [t + times * c for t, c in zip(total, curve[offset:], strict=False)]


def shortfall(state: DialerState, forecast: Forecast) -> tuple[list[float], list[float], float]:
    """Mean and variance of X_k (k = 0..HORIZON); the answers expected from calls in flight."""
    mean = [float(state.waiting_calls - state.ready_operators)] * (HORIZON + 1)
    variance = [0.0] * (HORIZON + 1)
    answers = 0.0
    now = state.now
    for age, count in Counter(int(now - since) for since in state.ringing_since).items():
        answered, spread = forecast.answered_within(age)
        _add(mean, answered, count)
        _add(variance, spread, count)
        answers += count * answered[HORIZON]
    for elapsed, count in Counter(int(now - since) for since in state.wrapping_since).items():
        freed, spread = forecast.free_after_wrap(elapsed)
        _add(mean, freed, -count, GRACE)
        _add(variance, spread, count, GRACE)
    for step, count in Counter(int((now - s) // TALK_STEP) for s in state.talking_since).items():
        freed, spread = forecast.free_after_talk(step * TALK_STEP)
        _add(mean, freed, -count, GRACE)
        _add(variance, spread, count, GRACE)
    return mean, variance, answers


def expected_abandons(mean: list[float], variance: list[float]) -> float:
    """The largest E[max(X_k, 0)] over k, each X_k read as normal (mean, variance)."""
    worst = 0.0
    for m, v in zip(mean, variance, strict=True):
        if v <= 1e-12:
            worst = max(worst, m)
            continue
        s = math.sqrt(v)
        z = m / s
        if z > -8.0:
            below = 0.5 * math.erfc(-z / math.sqrt(2.0))  # P(N(0, 1) <= z)
            density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
            worst = max(worst, m * below + s * density)
    return worst


def marginal_risk(savings: float) -> float:
    """The share of an extra call's answers that may be abandoned, given the budget saved."""
    return min(RISK_CAP, RISK_WITHOUT_SAVINGS * math.exp(max(-50.0, savings / RISK_GROWTH)))


def predictive_calls(settings: PacingSettings, state: DialerState, forecast: Forecast) -> int:
    """How many calls to place now (the model and the budget are explained above)."""
    operators = state.operators
    if operators == 0:
        return 0
    in_flight = state.calls_in_flight
    limit = settings.max_lines or operators * LINES_PER_OPERATOR_CAP
    room = limit - in_flight
    if room <= 0:
        return 0
    riskless = min(room, max(0, state.ready_operators - in_flight))
    mean, variance, answers = shortfall(state, forecast)
    lost = expected_abandons(mean, variance)
    aim = settings.target_abandon_rate * AIM
    budget = aim * (state.answered_in_window + answers) - state.abandoned_in_window - lost
    answered, spread = forecast.answered_within(0)
    answer_probability = answered[HORIZON]
    spent = state.abandoned_in_window > settings.target_abandon_rate * state.answered_in_window
    placed = 0
    while placed < room:
        _add(mean, answered, 1.0)
        _add(variance, spread, 1.0)
        with_one_more = expected_abandons(mean, variance)
        cost = with_one_more - lost
        risky = spent or cost > marginal_risk(budget) * answer_probability
        if placed >= riskless and risky:
            break
        placed += 1
        lost = with_one_more
        budget += aim * answer_probability - cost
    return placed
