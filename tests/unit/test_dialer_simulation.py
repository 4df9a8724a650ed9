"""dialer.simulation driving the real pacing code, and the benchmark's baselines."""

from __future__ import annotations

import statistics

import pytest

from bench.dialer_baselines import AdaptTaperedPacer, erlang_b, erlang_b_occupancy
from callcenter.models.campaigns import DialMode
from dialer.dial_state import DialerState, Outcome, OutcomeKind, PacingSettings
from dialer.pacing import CampaignPacer
from dialer.simulation import LeadList, SimulatedCampaign, progressive_occupancy, simulate


def pacer(mode: DialMode, lines_per_operator: float = 1.0) -> CampaignPacer:
    return CampaignPacer(PacingSettings(mode=mode, lines_per_operator=lines_per_operator))


def test_the_closed_form_for_progressive_dialling() -> None:
    # 140 / (140 + 3 x 25 + 8)
    assert progressive_occupancy(SimulatedCampaign(operators=1)) == pytest.approx(140 / 223)


def test_leads_follow_the_issue_figures_whatever_the_pacer() -> None:
    campaign = SimulatedCampaign(operators=1)
    first = LeadList(campaign, seed=7).next()
    leads = LeadList(campaign, seed=7)
    many = [leads.next() for _ in range(20_000)]
    assert many[0] == first
    assert LeadList(campaign, seed=8).next() != first
    answered = [lead for lead in many if lead.answers]
    assert len(answered) / len(many) == pytest.approx(0.25, abs=0.01)
    assert statistics.fmean(lead.ring_seconds for lead in answered) == pytest.approx(8.0, abs=0.2)
    assert {lead.ring_seconds for lead in many if not lead.answers} == {25.0}
    assert max(lead.ring_seconds for lead in answered) < 25.0
    assert statistics.fmean(lead.talk_seconds for lead in many) == pytest.approx(120.0, rel=0.03)


def test_progressive_matches_its_closed_form() -> None:
    campaign = SimulatedCampaign(operators=100, hours=8.0)
    result = simulate(campaign, pacer(DialMode.PROGRESSIVE), seed=1)
    assert result.abandoned == 0
    assert result.occupancy == pytest.approx(progressive_occupancy(campaign), abs=0.01)
    # every connected call came from an answer, every answer from a dial
    assert result.connected <= result.answered <= result.dialled


def test_predictive_keeps_abandons_under_the_target_and_operators_busy() -> None:
    campaign = SimulatedCampaign(operators=20, hours=2.0)
    result = simulate(campaign, pacer(DialMode.PREDICTIVE), seed=3)
    assert result.abandon_rate <= 0.03
    assert result.occupancy >= 0.80
    assert result.occupancy > progressive_occupancy(campaign) + 0.1


def test_overdialling_abandons_calls() -> None:
    campaign = SimulatedCampaign(operators=20, hours=1.0)
    result = simulate(campaign, pacer(DialMode.POWER, lines_per_operator=8.0), seed=2)
    assert result.abandon_rate > 0.05
    assert result.connected + result.abandoned == pytest.approx(result.answered, abs=20)


def test_preview_dials_nothing_by_itself() -> None:
    result = simulate(SimulatedCampaign(operators=5, hours=0.5), pacer(DialMode.PREVIEW), seed=1)
    assert (result.dialled, result.occupancy) == (0, 0.0)


def test_a_seed_gives_the_same_run() -> None:
    campaign = SimulatedCampaign(operators=10, hours=0.5)
    first = simulate(campaign, pacer(DialMode.PREDICTIVE), seed=5)
    assert simulate(campaign, pacer(DialMode.PREDICTIVE), seed=5) == first
    assert simulate(campaign, pacer(DialMode.PREDICTIVE), seed=6) != first


def test_erlang_b() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_b_occupancy(20, 0.03) == pytest.approx(0.679, abs=0.001)
    assert erlang_b_occupancy(100, 0.03) == pytest.approx(0.881, abs=0.001)


def _floor(now: float, ready: int, talking: int = 0) -> DialerState:
    return DialerState(now, ready, (now - 30.0,) * talking, (), ())


def test_adapt_tapered_raises_the_level_while_agents_wait() -> None:
    adapt = AdaptTaperedPacer(shift_end=8 * 3600.0)
    # level 1: one line per ready or talking agent
    assert adapt.calls_to_place(_floor(0.0, ready=20)) == 20
    for second in range(1, 15):
        adapt.calls_to_place(_floor(float(second), ready=20))
    # after 15 s with every agent waiting: 1 x (1 + 20 / 20)
    assert adapt.calls_to_place(_floor(15.0, ready=20)) == 40
    assert adapt.level == pytest.approx(2.0)


def test_adapt_tapered_tapers_the_level_after_too_many_drops() -> None:
    shift_end = 8 * 3600.0
    adapt = AdaptTaperedPacer(shift_end=shift_end)
    adapt.level = 2.0
    for i in range(60):  # 60 calls, 10 answered, 1 drop in 10 answers: 10%
        adapt.learn(Outcome(OutcomeKind.ANSWERED if i < 10 else OutcomeKind.FAILED, 8.0, 0.0))
    adapt.learn(Outcome(OutcomeKind.ABANDONED, 2.0, 0.0))
    now = shift_end - 5 * 3600.0  # five hours left: the level is halved
    for second in range(16):
        adapt.calls_to_place(_floor(now - 15.0 + second, ready=0, talking=20))
    assert adapt.level == pytest.approx(1.0)  # 2.0 x (1 + 0) x 0.5
