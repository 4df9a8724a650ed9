"""Asterisk behind the ``callcenter.telephony.Telephony`` protocol."""

from __future__ import annotations

import re
import secrets

from ami.actions import UnsafeAmiValue
from ami.link import AmiLink
from callcenter.telephony import OriginateAccepted, OriginateRequest, TelephonyState

_ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class AmiTelephony:
    def __init__(self, link: AmiLink, *, originate_context: str) -> None:
        self._link = link
        self._context = originate_context

    @property
    def state(self) -> TelephonyState:
        return self._link.state

    async def originate(self, request: OriginateRequest) -> OriginateAccepted:
        """Ring the operator's endpoint first, then dial ``number`` in the server's context."""
        if not _ENDPOINT.match(request.endpoint):
            raise UnsafeAmiValue(f"bad endpoint {request.endpoint!r}")
        if not _NUMBER.match(request.number):
            raise UnsafeAmiValue(f"bad number {request.number!r}")
        for name in request.variables:
            if not _VARIABLE.match(name):
                raise UnsafeAmiValue(f"bad channel variable name {name!r}")
        action_id = "cc-" + secrets.token_hex(8)
        fields: dict[str, object] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": f"PJSIP/{request.endpoint}",
            "Context": self._context,
            "Exten": request.number.lstrip("+"),
            "Priority": "1",
            "Async": "true",
            "Timeout": str(request.timeout_seconds * 1000),
        }
        if request.caller_id:
            fields["CallerID"] = request.caller_id
        if request.variables:
            fields["Variable"] = [f"{k}={v}" for k, v in request.variables.items()]
        await self._link.send(fields)
        return OriginateAccepted(request_id=action_id)
