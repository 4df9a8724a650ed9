"""Telephony events in call-center words, independent of Asterisk's header names.

``ami.translate`` is the only code that reads AMI headers; it produces these
frozen values, and everything after it (the call tracker first) reads only
them. Every event carries ``at``: when it happened on the PBX (AMI's
``Timestamp``), or when it was received if the PBX did not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ChannelState = Literal["down", "ring", "ringing", "up", "busy", "other"]
"""``ring``: the channel is calling in (a phone or trunk dialled Asterisk);
``ringing``: Asterisk rings the device; ``down``: created to dial out, not yet ringing."""

DialStatus = Literal[
    "answer", "busy", "noanswer", "cancel", "congestion", "chanunavail", "dontcall", "torture",
    "invalidargs", "other",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One channel (a leg of a call) as an event describes it."""

    name: str
    """``PJSIP/op101-0000001a``."""
    uniqueid: str
    device: str | None
    """The phone or trunk, ``PJSIP/op101``; None for ``Local/`` half-calls."""
    number: str
    """The channel's caller-ID number ("" when Asterisk says ``<unknown>``)."""
    caller_name: str
    exten: str
    state: ChannelState


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEvent(Event):
    linkedid: str
    """Shared by every channel of one call (Asterisk's ``Linkedid``)."""


@dataclass(frozen=True, slots=True)
class ChannelCreated(CallEvent):
    channel: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChannelStateChanged(CallEvent):
    channel: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChannelHungUp(CallEvent):
    channel: ChannelInfo
    cause: int | None
    """Q.850 cause: 16 normal, 17 busy, 19 no answer, 26 answered elsewhere..."""
    cause_text: str


@dataclass(frozen=True, slots=True)
class DialStarted(CallEvent):
    caller: ChannelInfo | None
    """None when Asterisk itself dials (an Originate's first leg)."""
    target: ChannelInfo
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialEnded(CallEvent):
    caller: ChannelInfo | None
    target: ChannelInfo
    status: DialStatus


@dataclass(frozen=True, slots=True)
class QueueCallerJoined(CallEvent):
    caller: ChannelInfo
    queue: str
    position: int | None


@dataclass(frozen=True, slots=True)
class QueueCallerLeft(CallEvent):
    caller: ChannelInfo
    queue: str


@dataclass(frozen=True, slots=True)
class QueueCallerAbandoned(CallEvent):
    """The caller hung up while waiting in the queue."""

    caller: ChannelInfo
    queue: str
    hold_seconds: int | None


@dataclass(frozen=True, slots=True)
class AgentEvent(CallEvent):
    caller: ChannelInfo
    target: ChannelInfo | None
    """The channel that rings the member (absent in some Asterisk versions)."""
    queue: str
    member: str
    """The queue member's interface as configured: ``PJSIP/op101``, ``Local/101@agents/n``."""
    member_name: str
    device: str | None
    """The member's phone; None when the member is a ``Local/`` channel (the real
    phone then shows up as the target of a dial from that Local channel)."""


@dataclass(frozen=True, slots=True)
class AgentRinging(AgentEvent):
    """A queue rings a member (AgentCalled)."""


@dataclass(frozen=True, slots=True)
class AgentAnswered(AgentEvent):
    """A member answered a queue call (AgentConnect)."""

    hold_seconds: int | None
    ring_seconds: int | None


@dataclass(frozen=True, slots=True)
class AgentMissed(AgentEvent):
    """A member's phone rang out without answer (AgentRingNoAnswer)."""

    ring_seconds: int | None


@dataclass(frozen=True, slots=True)
class AgentCompleted(AgentEvent):
    hold_seconds: int | None
    talk_seconds: int | None
    reason: str
    """Who ended it: ``caller``, ``agent`` or ``transfer``."""


@dataclass(frozen=True, slots=True)
class BridgeEntered(CallEvent):
    channel: ChannelInfo
    bridge_id: str


@dataclass(frozen=True, slots=True)
class BridgeLeft(CallEvent):
    channel: ChannelInfo
    bridge_id: str


@dataclass(frozen=True, slots=True)
class BlindTransferred(CallEvent):
    success: bool
    transferer: ChannelInfo | None
    transferee: ChannelInfo | None
    exten: str
    context: str


@dataclass(frozen=True, slots=True)
class AttendedTransferred(CallEvent):
    """``linkedid`` is the original call's (the transferer's first channel)."""

    success: bool
    transferer: ChannelInfo | None
    """The operator's channel talking to the customer."""
    second_transferer: ChannelInfo | None
    """The same operator's channel of the consultation call."""
    transferee: ChannelInfo | None
    target: ChannelInfo | None
    """Who the customer is handed to."""
    target_linkedid: str
    """The consultation call's linkedid ("" when unknown)."""


@dataclass(frozen=True, slots=True)
class VariableSet(CallEvent):
    """A ``CALLCENTER_*`` channel variable (leading ``_``/``__`` stripped)."""

    channel: ChannelInfo
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class OriginateFinished(Event):
    """The outcome of an ``Originate`` sent with ``action_id``."""

    action_id: str
    success: bool
    reason: int | None
    """Asterisk's originate reason: 0 failed, 1 hung up, 3 ring timeout, 4 answered,
    5 busy, 8 congestion."""
    uniqueid: str
    """The originated channel ("" when none came up); it is also the call's linkedid."""
    channel: str
    exten: str
    """Where the answered channel was sent: the number for click-to-dial."""


@dataclass(frozen=True, slots=True)
class QueueMemberPaused(Event):
    queue: str
    member: str
    member_name: str
    device: str | None
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberStateChanged(Event):
    queue: str
    member: str
    member_name: str
    device: str | None
    status: int | None
    """Asterisk device state: 1 not in use, 2 in use, 3 busy, 5 unavailable, 6 ringing..."""
    paused: bool
    in_call: bool


@dataclass(frozen=True, slots=True)
class LinkReady(Event):
    """The PBX finished booting or reloaded: live state should be rebuilt."""


TelephonyEvent = (
    ChannelCreated
    | ChannelStateChanged
    | ChannelHungUp
    | DialStarted
    | DialEnded
    | QueueCallerJoined
    | QueueCallerLeft
    | QueueCallerAbandoned
    | AgentRinging
    | AgentAnswered
    | AgentMissed
    | AgentCompleted
    | BridgeEntered
    | BridgeLeft
    | BlindTransferred
    | AttendedTransferred
    | VariableSet
    | OriginateFinished
    | QueueMemberPaused
    | QueueMemberStateChanged
    | LinkReady
)
