"""dialer.pacing decisions in small situations worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.models.campaigns import DialMode
from dialer.dial_state import DialerState, Outcome, OutcomeKind, PacingSettings
from dialer.pacing import CampaignPacer
from dialer.predictive import Forecast, expected_abandons, marginal_risk

NOW = 10_000.0


def floor(
    ready: int = 0,
    talking: tuple[float, ...] = (),
    wrapping: tuple[float, ...] = (),
    ringing: tuple[float, ...] = (),
    waiting: int = 0,
    answered: int = 0,
    abandoned: int = 0,
) -> DialerState:
    """A state whose times are given as seconds elapsed (talked, wrapped up, rung)."""
    return DialerState(
        now=NOW,
        ready_operators=ready,
        talking_since=tuple(NOW - t for t in talking),
        wrapping_since=tuple(NOW - t for t in wrapping),
        ringing_since=tuple(NOW - t for t in ringing),
        waiting_calls=waiting,
        answered_in_window=answered,
        abandoned_in_window=abandoned,
    )


def excess_answers(calls: int, answer_rate: float, operators: int) -> float:
    """E[max(answers - operators, 0)] for ``calls`` independent calls: the exact binomial."""
    return sum(
        math.comb(calls, k) * answer_rate**k * (1 - answer_rate) ** (calls - k) * (k - operators)
        for k in range(operators + 1, calls + 1)
    )


def pacer(mode: DialMode, **settings: float) -> CampaignPacer:
    return CampaignPacer(PacingSettings(mode=mode, **settings))  # type: ignore[arg-type]


def trained(mode: DialMode = DialMode.PREDICTIVE) -> CampaignPacer:
    """A pacer that has seen a quarter of its calls answered after 8 s, the rest fail at 25 s,
    talks of 120 s and wrap-ups of 20 s."""
    result = pacer(mode)
    for i in range(400):
        answered = i % 4 == 0
        kind = OutcomeKind.ANSWERED if answered else OutcomeKind.FAILED
        result.learn(Outcome(kind, 8.0 if answered else 25.0, 0.0))
        result.learn(Outcome(OutcomeKind.TALK, 120.0, 0.0))
        result.learn(Outcome(OutcomeKind.WRAP, 20.0, 0.0))
    return result


@pytest.mark.parametrize("mode", list(DialMode))
def test_no_operator_logged_in_means_no_calls(mode: DialMode) -> None:
    assert pacer(mode, lines_per_operator=3.0).calls_to_place(floor()) == 0
    assert trained(mode).calls_to_place(floor(answered=1000)) == 0


def test_preview_never_dials_by_itself() -> None:
    assert pacer(DialMode.PREVIEW).calls_to_place(floor(ready=10)) == 0


def test_progressive_covers_each_ready_operator_once() -> None:
    progressive = pacer(DialMode.PROGRESSIVE)
    assert progressive.calls_to_place(floor(ready=5)) == 5
    assert progressive.calls_to_place(floor(ready=5, ringing=(3.0, 10.0), waiting=1)) == 2
    assert progressive.calls_to_place(floor(ready=2, ringing=(1.0, 2.0, 3.0))) == 0
    # busy operators are not covered in advance
    assert progressive.calls_to_place(floor(ready=0, wrapping=(19.0,), talking=(100.0,))) == 0


@given(
    ready=st.integers(0, 50),
    ringing=st.lists(st.floats(0.0, 60.0), max_size=60),
    waiting=st.integers(0, 5),
    busy=st.integers(0, 50),
)
def test_progressive_never_exceeds_ready_operators_less_calls_in_flight(
    ready: int, ringing: list[float], waiting: int, busy: int
) -> None:
    state = floor(ready=ready, ringing=tuple(ringing), waiting=waiting, talking=(30.0,) * busy)
    placed = pacer(DialMode.PROGRESSIVE).calls_to_place(state)
    assert placed == max(0, ready - len(ringing) - waiting)


def test_power_keeps_a_fixed_number_of_lines_per_ready_operator() -> None:
    power = pacer(DialMode.POWER, lines_per_operator=2.5)
    assert power.calls_to_place(floor(ready=4)) == 10
    assert power.calls_to_place(floor(ready=4, ringing=(1.0,) * 7)) == 3
    assert power.calls_to_place(floor(ready=4, ringing=(1.0,) * 12)) == 0
    assert power.calls_to_place(floor(ready=0, talking=(10.0,) * 5)) == 0


def test_max_lines_caps_every_mode() -> None:
    capped = pacer(DialMode.POWER, lines_per_operator=3.0, max_lines=8)
    assert capped.calls_to_place(floor(ready=4, ringing=(1.0,) * 2)) == 6
    predictive = CampaignPacer(PacingSettings(mode=DialMode.PREDICTIVE, max_lines=3))
    assert predictive.calls_to_place(floor(ready=10)) == 3


def test_predictive_starts_near_progressive_before_it_has_learned_anything() -> None:
    # nothing learned (prior: 30% answered) and no budget saved: one call per ready
    # operator, plus at most the odd call whose abandon needs nearly all to answer
    placed = pacer(DialMode.PREDICTIVE).calls_to_place(floor(ready=6))
    assert 6 <= placed <= 8
    assert excess_answers(placed, 0.3, 6) < 0.002


def test_predictive_dials_ahead_for_an_operator_about_to_finish_wrap_up() -> None:
    predictive = trained()
    budget_left = {"answered": 1000, "abandoned": 10}
    # free in 2 s: a call placed now is answered (if at all) after about 8 s
    assert predictive.calls_to_place(floor(wrapping=(18.0,), **budget_left)) == 1
    # a second call would be abandoned whenever both are answered: 1/4 of its answers,
    # the largest risk accepted
    assert marginal_risk(1000.0) == pytest.approx(0.25)
    # free only in 20 s: any answer in the next seconds would find nobody
    assert predictive.calls_to_place(floor(wrapping=(0.0,), **budget_left)) == 0


def test_predictive_places_nothing_risky_once_the_abandon_budget_is_spent() -> None:
    predictive = trained()
    about_to_free = {"wrapping": (18.0,), "ready": 2, "ringing": (0.0, 0.0)}
    assert predictive.calls_to_place(floor(**about_to_free, answered=1000, abandoned=10)) >= 1
    # 4% abandoned against a 3% target: the budget is spent
    assert predictive.calls_to_place(floor(**about_to_free, answered=1000, abandoned=40)) == 0
    # calls that cannot be abandoned (one per uncovered ready operator) still go out
    spent = {"answered": 1000, "abandoned": 40}
    assert predictive.calls_to_place(floor(ready=3, ringing=(5.0,), **spent)) == 2


def test_predictive_fills_idle_operators_without_flooding_them() -> None:
    predictive = trained()
    # 30 idle operators and a quarter of the calls answered: 120 calls would bring 30
    # answers on average, and abandon about 1.9 of them (the binomial tail)
    assert excess_answers(120, 0.25, 30) == pytest.approx(1.89, abs=0.01)
    placed = predictive.calls_to_place(floor(ready=30, answered=1000, abandoned=10))
    assert 60 <= placed <= 110
    assert excess_answers(placed, 0.25, 30) < 0.5


def test_the_model_learns_the_answer_rate_from_outcomes() -> None:
    model = trained().model
    assert model.answer_rate == pytest.approx(0.25, abs=0.01)
    assert model.wrap.mean() == pytest.approx(20.5, abs=1.0)


def test_a_call_ringing_past_every_answer_seen_is_not_expected_to_answer() -> None:
    forecast = Forecast(trained().model)
    fresh, _ = forecast.answered_within(0)
    assert fresh[30] == pytest.approx(0.25, abs=0.02)
    late, _ = forecast.answered_within(20)
    assert late[30] < 0.01
    # an operator 19 s into a 20 s wrap-up is free within 2 s
    free, _ = forecast.free_after_wrap(19)
    assert free[0] == 0.0
    assert free[2] == pytest.approx(1.0, abs=0.01)


def test_expected_abandons() -> None:
    assert expected_abandons([-1.0, 2.0], [0.0, 0.0]) == 2.0
    assert expected_abandons([-3.0], [0.0]) == 0.0
    # X ~ N(0, 1): E[max(X, 0)] = 1 / sqrt(2 pi)
    assert expected_abandons([0.0], [1.0]) == pytest.approx(0.39894, abs=1e-4)
