"""How many calls a campaign places now: the pacing the dialer engine calls on every change.

Modes (``callcenter.models.DialMode``):

- preview: none automatically; the operator sees the next lead's card and presses Dial;
- progressive: one call per ready operator not already covered by a call in flight;
- power: a fixed number of lines (``lines_per_operator``) per ready operator;
- predictive: see ``dialer.predictive``: more calls than ready operators, paced so that
  the rolling abandon rate stays under the campaign's target.

Pure code: the caller passes the time in the ``DialerState``, feeds back every outcome
through ``learn``, and places the calls. The engine and ``dialer.simulation`` drive the
same ``CampaignPacer``.
"""

from __future__ import annotations

from typing import Protocol

from callcenter.models.campaigns import DialMode
from dialer.dial_state import DialerState, Outcome, PacingSettings
from dialer.outcome_model import OutcomeModel
from dialer.predictive import Forecast, predictive_calls


class Pacer(Protocol):
    """Anything that paces a campaign: ours, and the baselines the benchmark compares with."""

    def calls_to_place(self, state: DialerState) -> int: ...

    def learn(self, outcome: Outcome) -> None: ...


def progressive_calls(state: DialerState) -> int:
    """One call per ready operator, less the calls already ringing or waiting for one."""
    return max(0, state.ready_operators - state.calls_in_flight)


def power_calls(state: DialerState, lines_per_operator: float) -> int:
    """Keep ``lines_per_operator`` lines per ready operator (rounded) in flight."""
    return max(0, round(lines_per_operator * state.ready_operators) - state.calls_in_flight)


class CampaignPacer:
    """The pacing of one campaign: its settings and what it has learned from its outcomes."""

    def __init__(self, settings: PacingSettings, model: OutcomeModel | None = None) -> None:
        self.settings = settings
        self.model = model or OutcomeModel()
        self._forecast: Forecast | None = None

    def learn(self, outcome: Outcome) -> None:
        self.model.learn(outcome)

    def calls_to_place(self, state: DialerState) -> int:
        mode = self.settings.mode
        if mode is DialMode.PREVIEW or state.operators == 0:
            return 0
        if mode is DialMode.PROGRESSIVE:
            wanted = progressive_calls(state)
        elif mode is DialMode.POWER:
            wanted = power_calls(state, self.settings.lines_per_operator)
        else:
            wanted = predictive_calls(self.settings, state, self.forecast())
        if self.settings.max_lines is not None:
            wanted = min(wanted, max(0, self.settings.max_lines - state.calls_in_flight))
        return wanted

    def forecast(self) -> Forecast:
        """The model's probabilities, rebuilt only when the model has moved on."""
        if self._forecast is None or self._forecast.version != self.model.version:
            self._forecast = Forecast(self.model)
        return self._forecast
