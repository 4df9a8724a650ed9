"""The originate_rate benchmark against the real sandbox: every Originate found on the wire."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ami.sandbox import SandboxStatus
from bench.originate_rate import measure, parse_args

pytestmark = pytest.mark.asterisk


async def test_a_short_step_matches_every_originate_to_its_first_event(
    asterisk_sandbox: SandboxStatus, sipp_dir: Path
) -> None:
    measured = await measure(parse_args(["--rates", "5", "--seconds", "2"]), sipp_dir)

    [step] = measured.steps
    assert (step.sent, step.accepted, step.refused, step.errors) == (10, 10, 0, 0)
    # each Originate's Newchannel was found through its own tag, within the second
    assert step.no_event == 0
    assert len(step.lag_ms) == 10
    assert all(0 < lag < 1000 and not math.isinf(lag) for lag in step.lag_ms)
    # every call reached the operator's phone and then the customer's
    assert step.not_connected == 0
    assert step.peak_channels >= 2
    assert step.accepted_per_s == pytest.approx(5, rel=0.2)
    assert step.cpu["asterisk"] > 0
    assert step.passes
    assert measured.dropped_events == 0
