"""Automatic call results from hangup causes and Originate reasons; retry delays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.form_errors import FormInvalid
from callcenter.models import AttemptOutcome
from dialer.results import (
    DEFAULT_RETRY_DELAYS,
    check_retry_delays,
    outcome_from_hangup_cause,
    outcome_from_originate_reason,
    retry_delay,
)


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [
        (17, "busy"),
        (18, "no_answer"),
        (19, "no_answer"),
        (16, "no_answer"),
        (34, "congestion"),
        (38, "congestion"),
        (41, "congestion"),
        (42, "congestion"),
        (1, "failed"),
        (3, "failed"),
        (21, "failed"),
        (27, "failed"),
        (28, "failed"),
        (127, "failed"),  # interworking, unspecified: unknown causes fail, never "answered"
    ],
)
def test_hangup_causes(cause: int, outcome: str) -> None:
    assert outcome_from_hangup_cause(cause, answered=False) == outcome
    assert outcome_from_hangup_cause(cause, answered=True) == AttemptOutcome.ANSWERED


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        (0, "failed"),
        (1, "no_answer"),
        (3, "no_answer"),
        (4, "answered"),
        (5, "busy"),
        (8, "congestion"),
        (99, "failed"),
    ],
)
def test_originate_reasons(reason: int, outcome: str) -> None:
    assert outcome_from_originate_reason(reason) == outcome


def test_retry_delays_per_result_with_defaults() -> None:
    assert retry_delay({"busy": 120}, "busy") == timedelta(minutes=2)
    assert retry_delay({"busy": 120}, "no_answer") == timedelta(
        seconds=DEFAULT_RETRY_DELAYS["no_answer"]
    )
    assert retry_delay({}, "callback") == timedelta(hours=1)
    # a broken stored setting falls back to the defaults rather than stop the campaign
    assert retry_delay({"busy": "soon"}, "busy") == timedelta(minutes=10)
    for result in ("busy", "no_answer", "failed", "machine", "callback"):
        assert DEFAULT_RETRY_DELAYS[result] > 0


def test_bad_retry_delays_are_named() -> None:
    assert check_retry_delays({"busy": 60, "machine": 3600}) == {"busy": 60, "machine": 3600}
    with pytest.raises(FormInvalid) as refused:
        check_retry_delays({"busy": 0, "answered": 60, "no_answer": True})
    assert set(refused.value.errors) == {
        "retry_delays.busy",
        "retry_delays",
        "retry_delays.no_answer",
    }
