"""What the product needs from a telephone system, independent of Asterisk.

The dialer and the web console talk to telephony only through this protocol;
``ami`` implements it for Asterisk. Tests may supply their own implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

TelephonyState = Literal["connecting", "connected", "disconnected", "stopped"]


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
class OriginateAccepted:
    """The telephony system took the request; the outcome arrives as call events."""

    request_id: str


class Telephony(Protocol):
    @property
    def state(self) -> TelephonyState: ...

    async def originate(self, request: OriginateRequest) -> OriginateAccepted: ...
