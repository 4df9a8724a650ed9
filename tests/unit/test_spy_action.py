"""The supervisor's ChanSpy Originate as written on the wire, and what never reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from ami.actions import UnsafeAmiValue
from ami.telephony import AmiTelephony
from callcenter.telephony import SpyRequest
from tests.unit.test_dialer_engine_parts import wired
from tests.unit.test_link import FakeAmi

__all__ = ["wired"]  # the fixture: a FakeAmi and the AmiTelephony linked to it


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_the_supervisor_s_phone_rings_into_chanspy_of_the_operator(
    mode: str, wired: tuple[FakeAmi, AmiTelephony]
) -> None:
    ami, telephony = wired
    accepted = await telephony.spy(SpyRequest("op110", "PJSIP/op101", mode))  # type: ignore[arg-type]
    (sent,) = [a for a in ami.actions if a.get("action") == "Originate"]
    assert accepted.request_id == sent["actionid"]
    assert (sent["channel"], sent["context"], sent["exten"]) == (
        "PJSIP/op110",
        "supervisor-spy",
        mode,
    )
    assert sent["variable"] == "CALLCENTER_SPY_TARGET=PJSIP/op101-"


@pytest.mark.parametrize(
    "request_",
    [
        SpyRequest("op110\r\nAction: Hangup", "PJSIP/op101", "listen"),
        SpyRequest("op110", "PJSIP/op101\r\nAction: Hangup", "listen"),
        SpyRequest("op110", "SIP/op101", "listen"),  # another technology's channels
        SpyRequest("op110", "PJSIP/op1*", "listen"),  # a prefix of many operators
        SpyRequest("op110", "PJSIP/op101", "record"),  # type: ignore[arg-type]
    ],
)
async def test_an_unsafe_spy_request_never_reaches_the_wire(
    request_: Any, wired: tuple[FakeAmi, AmiTelephony]
) -> None:
    ami, telephony = wired
    with pytest.raises(UnsafeAmiValue):
        await telephony.spy(request_)
    assert not [a for a in ami.actions if a.get("action") == "Originate"]
