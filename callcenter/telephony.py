"""What the product needs from a telephone system, independent of Asterisk.

The dialer and the web console talk to telephony only through this protocol;
``ami`` implements it for Asterisk. Tests may supply their own implementation.

Errors: ``TelephonyError`` when the telephone system refused a request (its
outcome is known: nothing happened); ``ConnectionError`` when the link was down
or went down before the answer (the outcome is unknown: the request may or may
not have been carried out, and it is never sent again by itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

TelephonyState = Literal["connecting", "connected", "disconnected", "stopped"]


class TelephonyError(Exception):
    """The telephone system refused the request; nothing was done."""


@dataclass(frozen=True)
class OriginateRequest:
    """Ring ``endpoint`` and, once it answers, send the call to ``number``.

    Which dialplan context and channel technology are used is the adapter's
    business (server-side settings), never the caller's.
    """

    endpoint: str
    number: str
    caller_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 30


@dataclass(frozen=True)
class CustomerCall:
    """The automatic dialer's call: ring the customer at ``number`` first.

    Once they answer, the server's dialer context connects them to a ready
    operator of the campaign, or, when none is free within the grace, plays a
    short message and hangs up (an abandoned call). ``request_id`` becomes the
    ActionID, so the ``OriginateResponse`` names the attempt; ``variables``
    with a ``__`` prefix reach every leg of the call.
    """

    number: str
    request_id: str
    caller_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    ring_seconds: int = 25


SpyMode = Literal["listen", "whisper", "barge"]
SPY_MODES: tuple[SpyMode, ...] = ("listen", "whisper", "barge")


@dataclass(frozen=True)
class SpyRequest:
    """Ring the supervisor's phone at ``supervisor_endpoint``; once answered, join the
    call of the operator's phone ``operator_device`` (``PJSIP/op101``) in ``mode``."""

    supervisor_endpoint: str
    operator_device: str
    mode: SpyMode


@dataclass(frozen=True)
class OriginateAccepted:
    """The telephony system took the request; the outcome arrives as call events."""

    request_id: str


@dataclass(frozen=True)
class QueueMemberState:
    queue: str
    device: str
    """The member's phone as the PBX names it, e.g. ``PJSIP/op101``."""
    name: str
    paused: bool
    paused_reason: str
    in_call: bool
    available: bool
    """Registered and not busy or ringing (the PBX's device state)."""
    calls_taken: int
    penalty: int = 0


@dataclass(frozen=True)
class QueueCallerState:
    queue: str
    position: int
    caller_number: str
    caller_name: str
    wait_seconds: int
    call_id: str
    """The waiting channel's unique id."""


@dataclass(frozen=True)
class QueueReport:
    members: tuple[QueueMemberState, ...]
    callers: tuple[QueueCallerState, ...]


class Telephony(Protocol):
    @property
    def state(self) -> TelephonyState: ...

    async def originate(self, request: OriginateRequest) -> OriginateAccepted: ...

    async def spy(self, request: SpyRequest) -> OriginateAccepted: ...

    async def queue_pause(
        self, endpoint: str, paused: bool, reason: str = "", *, queue: str | None = None
    ) -> None:
        """Pause (or unpause) the operator's phone in ``queue``, or in every queue."""
        ...

    async def queue_status(self, queue: str | None = None) -> QueueReport: ...


class DialerTelephony(Protocol):
    """What the automatic dialer needs: customer-first calls and its queue's members.

    The dialer's answered calls wait in one queue; a campaign's operators are its
    members with the campaign's id as penalty, and each call asks for exactly that
    penalty, so a call reaches only its own campaign's operators.
    """

    @property
    def state(self) -> TelephonyState: ...

    async def call_customer(self, call: CustomerCall) -> OriginateAccepted: ...

    async def queue_status(self, queue: str | None = None) -> QueueReport: ...

    async def queue_add(
        self, queue: str, endpoint: str, *, penalty: int, paused: bool, member_name: str = ""
    ) -> None: ...

    async def queue_remove(self, queue: str, endpoint: str) -> None: ...

    async def queue_penalty(self, queue: str, endpoint: str, penalty: int) -> None: ...
