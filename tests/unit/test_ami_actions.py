from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from panoramisk.actions import Action

from ami.actions import UnsafeAmiValue, safe_action


def test_plain_action_passes_unchanged() -> None:
    fields = {"Action": "QueuePause", "Interface": "PJSIP/op101", "Paused": "true"}
    assert safe_action(fields) == fields


def test_variables_stay_a_list() -> None:
    checked = safe_action({"Action": "Originate", "Variable": ["CAMPAIGN=1", "LEAD=2"]})
    assert checked["Variable"] == ["CAMPAIGN=1", "LEAD=2"]


@pytest.mark.parametrize("bad", ["Ivan\r\nAction: Command", "a\nb", "x\rAction: Hangup", "nul\0"])
def test_line_breaks_and_nul_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeAmiValue):
        safe_action({"Action": "Originate", "CallerID": bad})
    with pytest.raises(UnsafeAmiValue):
        safe_action({"Action": "Originate", "Variable": ["NAME=ok", bad]})


def test_bad_field_names_are_refused() -> None:
    with pytest.raises(UnsafeAmiValue):
        safe_action({"Action": "Ping", "Bad\r\nAction": "x"})
    with pytest.raises(UnsafeAmiValue):
        safe_action({"Channel": "PJSIP/op101"})


async def _wire(fields: dict[str, str | list[str]]) -> str:
    # panoramisk's Action makes a Future, which needs a running loop
    return str(Action(fields, as_list=False))


@given(st.text(max_size=200))
def test_whatever_passes_writes_exactly_one_action(value: str) -> None:
    try:
        fields = safe_action({"Action": "Originate", "CallerID": value})
    except UnsafeAmiValue:
        return
    wire = asyncio.run(_wire(fields))
    assert wire.count("\r\n\r\n") == 1 and wire.endswith("\r\n\r\n")
    assert sum(line.startswith("Action:") for line in wire.split("\r\n")) == 1
