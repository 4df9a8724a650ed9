"""Asterisk behind the ``callcenter.telephony.Telephony`` protocol.

Every value that comes from a person or a campaign is checked against a strict
pattern here; the channel technology and the dialplan context come only from
the server's own settings (constructor arguments), never from a request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from ami.actions import UnsafeAmiValue
from ami.link import AmiLink, LinkState
from callcenter.telephony import (
    SPY_MODES,
    CustomerCall,
    OriginateAccepted,
    OriginateRequest,
    QueueCallerState,
    QueueMemberState,
    QueueReport,
    SpyRequest,
    TelephonyError,
    TelephonyState,
)

ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
QUEUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TECHNOLOGY = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}$")
CONTEXT = re.compile(r"^[A-Za-z0-9_-]{1,79}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Asterisk splits a Variable header on ',' (one header could set several
# variables or dialplan functions): values get no separators, quotes or $
VARIABLE_VALUE = re.compile(r"^[\w .:@+/=-]{0,256}$")
# a person's words (caller name, pause reason): printable, no '|' (queue_log's
# field separator) and no characters Asterisk treats specially in CallerID
TEXT = re.compile(r'^[^\x00-\x1f\x7f|<>"\\]{0,80}$')
CALLER_ID = re.compile(r'^[^\x00-\x1f\x7f|<>"\\]{0,64}(?: ?<\+?[0-9]{1,20}>)?$')
# the dialer's attempt ids ("dial-<lead>-<hex>"): an ActionID and a channel variable
REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,80}$")
MAX_PENALTY = 2**31 - 1


class AmiTelephony:
    def __init__(
        self,
        link: AmiLink,
        *,
        originate_context: str,
        technology: str = "PJSIP",
        dialer_context: str = "dialer-auto",
        spy_context: str = "supervisor-spy",
        trunk: str = "trunk",
    ) -> None:
        _check(CONTEXT, originate_context, "dialplan context")
        _check(TECHNOLOGY, technology, "channel technology")
        _check(CONTEXT, dialer_context, "dialplan context")
        _check(CONTEXT, spy_context, "dialplan context")
        _check(ENDPOINT, trunk, "trunk")
        self._link = link
        self._context = originate_context
        self._technology = technology
        self._dialer_context = dialer_context
        self._spy_context = spy_context
        self._trunk = trunk

    @property
    def state(self) -> TelephonyState:
        state: LinkState = self._link.state
        return state

    async def originate(self, request: OriginateRequest) -> OriginateAccepted:
        """Ring the operator's endpoint first, then dial ``number`` in the server's context.

        Returns once Asterisk has queued the call; its progress (and the
        ``OriginateResponse`` carrying ``request_id`` as ActionID) arrives as events.
        """
        _check(ENDPOINT, request.endpoint, "endpoint")
        _check(NUMBER, request.number, "number")
        _check(CALLER_ID, request.caller_id, "caller id")
        if not 1 <= request.timeout_seconds <= 600:
            raise UnsafeAmiValue(f"bad originate timeout {request.timeout_seconds!r}")
        _check_variables(request.variables)
        return await self._originate(
            "cc-" + secrets.token_hex(8),
            channel=self._device(request.endpoint),
            context=self._context,
            exten=request.number.lstrip("+"),
            timeout_seconds=request.timeout_seconds,
            caller_id=request.caller_id,
            variables=request.variables,
        )

    async def call_customer(self, call: CustomerCall) -> OriginateAccepted:
        """Ring the customer through the trunk; on answer the dialer context takes over.

        The ActionID is the caller's ``request_id``; the outcome arrives as events
        (``OriginateResponse``, the channel's ``Hangup`` with its cause).
        """
        _check(NUMBER, call.number, "number")
        _check(REQUEST_ID, call.request_id, "request id")
        _check(CALLER_ID, call.caller_id, "caller id")
        if not 15 <= call.ring_seconds <= 120:
            # the law: ring at least 15 s before giving up on a customer
            raise UnsafeAmiValue(f"bad ring time {call.ring_seconds!r}")
        _check_variables(call.variables)
        number = call.number.lstrip("+")
        return await self._originate(
            call.request_id,
            channel=f"{self._technology}/{number}@{self._trunk}",
            context=self._dialer_context,
            exten=number,
            timeout_seconds=call.ring_seconds,
            caller_id=call.caller_id,
            variables=call.variables,
        )

    async def spy(self, request: SpyRequest) -> OriginateAccepted:
        """Ring the supervisor; once they answer, ChanSpy joins the operator's call."""
        _check(ENDPOINT, request.supervisor_endpoint, "endpoint")
        technology, _, operator = request.operator_device.partition("/")
        if technology != self._technology:
            raise UnsafeAmiValue(f"bad operator device {request.operator_device!r}")
        _check(ENDPOINT, operator, "operator endpoint")
        if request.mode not in SPY_MODES:
            raise UnsafeAmiValue(f"bad spy mode {request.mode!r}")
        return await self._originate(
            "cc-" + secrets.token_hex(8),
            channel=self._device(request.supervisor_endpoint),
            context=self._spy_context,
            exten=request.mode,
            timeout_seconds=30,
            caller_id="",
            # the operator's channels are named "PJSIP/op101-000000a1"
            variables={"CALLCENTER_SPY_TARGET": f"{self._device(operator)}-"},
        )

    async def _originate(
        self,
        action_id: str,
        *,
        channel: str,
        context: str,
        exten: str,
        timeout_seconds: int,
        caller_id: str,
        variables: Mapping[str, str],
    ) -> OriginateAccepted:
        """An async Originate of checked values; the first reply only says "queued"."""
        fields: dict[str, object] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(timeout_seconds * 1000),
        }
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        reply = await self._link.send(fields, as_list=False)
        _raise_unless_success(reply, "Originate")
        return OriginateAccepted(request_id=action_id)

    async def queue_add(
        self, queue: str, endpoint: str, *, penalty: int, paused: bool, member_name: str = ""
    ) -> None:
        _check(ENDPOINT, endpoint, "endpoint")
        fields: dict[str, object] = {
            "Action": "QueueAdd",
            "Queue": _check(QUEUE, queue, "queue"),
            "Interface": self._device(endpoint),
            "Penalty": str(_penalty(penalty)),
            "Paused": "true" if paused else "false",
        }
        if member_name:
            fields["MemberName"] = _check(ENDPOINT, member_name, "member name")
        reply = await self._link.send(fields, as_list=False)
        _raise_unless_success(reply, "QueueAdd")

    async def queue_remove(self, queue: str, endpoint: str) -> None:
        _check(ENDPOINT, endpoint, "endpoint")
        fields = {
            "Action": "QueueRemove",
            "Queue": _check(QUEUE, queue, "queue"),
            "Interface": self._device(endpoint),
        }
        reply = await self._link.send(fields, as_list=False)
        _raise_unless_success(reply, "QueueRemove")

    async def queue_penalty(self, queue: str, endpoint: str, penalty: int) -> None:
        _check(ENDPOINT, endpoint, "endpoint")
        fields = {
            "Action": "QueuePenalty",
            "Queue": _check(QUEUE, queue, "queue"),
            "Interface": self._device(endpoint),
            "Penalty": str(_penalty(penalty)),
        }
        reply = await self._link.send(fields, as_list=False)
        _raise_unless_success(reply, "QueuePenalty")

    async def queue_pause(
        self, endpoint: str, paused: bool, reason: str = "", *, queue: str | None = None
    ) -> None:
        _check(ENDPOINT, endpoint, "endpoint")
        _check(TEXT, reason, "pause reason")
        fields: dict[str, object] = {
            "Action": "QueuePause",
            "Interface": self._device(endpoint),
            "Paused": "true" if paused else "false",
        }
        if queue is not None:
            fields["Queue"] = _check(QUEUE, queue, "queue")
        if reason:
            fields["Reason"] = reason
        reply = await self._link.send(fields, as_list=False)
        _raise_unless_success(reply, "QueuePause")

    async def queue_status(self, queue: str | None = None) -> QueueReport:
        fields: dict[str, object] = {"Action": "QueueStatus"}
        if queue is not None:
            fields["Queue"] = _check(QUEUE, queue, "queue")
        reply = await self._link.send(fields)
        if not isinstance(reply, list):
            _raise_unless_success(reply, "QueueStatus")
            reply = []
        return queue_report(reply)

    def _device(self, endpoint: str) -> str:
        return f"{self._technology}/{endpoint}"


def queue_report(messages: list[Mapping[str, object]]) -> QueueReport:
    """The QueueMember and QueueEntry events of a QueueStatus reply, typed."""
    members = []
    callers = []
    for m in messages:
        event = m.get("Event")
        if event == "QueueMember":
            members.append(
                QueueMemberState(
                    queue=_text(m, "Queue"),
                    device=_text(m, "StateInterface") or _text(m, "Location"),
                    name=_text(m, "Name"),
                    paused=_text(m, "Paused") == "1",
                    paused_reason=_text(m, "PausedReason"),
                    in_call=_text(m, "InCall") == "1",
                    # AST_DEVICE_NOT_INUSE
                    available=_text(m, "Status") == "1",
                    calls_taken=_int(m, "CallsTaken"),
                    penalty=_int(m, "Penalty"),
                )
            )
        elif event == "QueueEntry":
            callers.append(
                QueueCallerState(
                    queue=_text(m, "Queue"),
                    position=_int(m, "Position"),
                    caller_number=_text(m, "CallerIDNum"),
                    caller_name=_text(m, "CallerIDName"),
                    wait_seconds=_int(m, "Wait"),
                    call_id=_text(m, "Uniqueid"),
                )
            )
    return QueueReport(tuple(members), tuple(callers))


def _check_variables(variables: Mapping[str, str]) -> None:
    for name, value in variables.items():
        _check(VARIABLE, name, "channel variable name")
        _check(VARIABLE_VALUE, value, f"value of {name}")


def _penalty(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PENALTY:
        raise UnsafeAmiValue(f"bad queue penalty {value!r}")
    return value


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeAmiValue(f"bad {what} {value!r}")
    return value


def _raise_unless_success(reply: object, action: str) -> None:
    if not getattr(reply, "success", False):
        reason = _text(reply, "Message") if isinstance(reply, Mapping) else ""
        raise TelephonyError(f"Asterisk refused {action}: {reason or 'no reason given'}")


def _text(message: Mapping[str, object], key: str) -> str:
    value = message.get(key, "")
    return value if isinstance(value, str) else ""


def _int(message: Mapping[str, object], key: str) -> int:
    try:
        return int(_text(message, key))
    except ValueError:
        return 0
