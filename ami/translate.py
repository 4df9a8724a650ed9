"""AMI messages -> ``callcenter.events``: the only code that reads AMI header names.

``translate`` is pure and on the screen-pop hot path, so it does one dict lookup
for the event name and builds values only for the events the product uses
(most AMI traffic is ``VarSet``/``Newexten``/``DeviceStateChange`` and costs a
lookup or two). It never raises: a garbled or unknown message is None.

Devices: a channel ``PJSIP/op101-0000001a`` (also ``SIP/``, ``IAX2/``,
``DAHDI/``...) belongs to the device ``PJSIP/op101``: the name without its
``-<hex>`` suffix. ``Local/`` channels are half-calls that Asterisk makes
to run dialplan (queue members like ``Local/101@agents/n``, transfers): they
are nobody's phone, so their device is None and the real phone appears as the
target of the dial the Local channel makes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from panoramisk.utils import CaseInsensitiveDict

from callcenter.events import (
    AgentAnswered,
    AgentCompleted,
    AgentMissed,
    AgentRinging,
    AttendedTransferred,
    BlindTransferred,
    BridgeEntered,
    BridgeLeft,
    CallEvent,
    ChannelCreated,
    ChannelHungUp,
    ChannelInfo,
    ChannelState,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    DialStatus,
    Event,
    LinkReady,
    OriginateFinished,
    QueueCallerAbandoned,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberPaused,
    QueueMemberStateChanged,
    VariableSet,
)

Headers = Mapping[str, Any]
VARIABLE_PREFIX = "CALLCENTER_"
_UNKNOWN = frozenset({"<unknown>", "<null>", "(null)"})
_STATES: dict[str, ChannelState] = {
    "0": "down",
    "4": "ring",
    "5": "ringing",
    "6": "up",
    "7": "busy",
}
_DIAL_STATUSES: dict[str, DialStatus] = {
    s.upper(): s
    for s in (
        "answer", "busy", "noanswer", "cancel", "congestion", "chanunavail", "dontcall",
        "torture", "invalidargs",
    )
}  # fmt: skip
_CHANNEL_NAME = re.compile(r"^([^/]+/.+)-[0-9a-fA-F]+(?:<[A-Z]+>)?$")
_CHANNEL_FIELDS = ("Channel", "Uniqueid", "CallerIDNum", "CallerIDName", "Exten", "ChannelState")
# AMI names channel snapshots with a prefix: "" (the event's channel), "Dest", "Transferer"...
_KEYS = {
    p: tuple(p + f for f in _CHANNEL_FIELDS)
    for p in ("", "Dest", "Transferer", "Transferee", "OrigTransferer", "SecondTransferer",
              "TransferTarget")
}  # fmt: skip


@lru_cache(maxsize=8192)
def device_of(channel: str) -> str | None:
    """``PJSIP/op101-0000001a`` -> ``PJSIP/op101``; None for Local channels and garbage."""
    if not channel or channel.startswith("Local/"):
        return None
    found = _CHANNEL_NAME.match(channel)
    if found:
        return found.group(1)
    return channel if "/" in channel and channel[0] != "/" else None


def member_device(interface: str) -> str | None:
    """The phone of a queue member interface (already a device name, unless Local)."""
    if not interface or interface.startswith("Local/") or "/" not in interface:
        return None
    return interface


def _s(value: object) -> str:
    # repeated headers arrive as lists (panoramisk): the first one counts
    if type(value) is str:
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return ""


def _number(value: object) -> str:
    text = _s(value)
    return "" if text in _UNKNOWN else text


def _int(value: object) -> int | None:
    text = _s(value)
    if not text or len(text) > 18:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _channel(h: Headers, prefix: str = "") -> ChannelInfo | None:
    name_key, uid_key, num_key, cid_key, exten_key, state_key = _KEYS[prefix]
    name = _s(h.get(name_key))
    uniqueid = _s(h.get(uid_key))
    if not name or not uniqueid or uniqueid in _UNKNOWN:
        return None
    return ChannelInfo(
        name,
        uniqueid,
        device_of(name),
        _number(h.get(num_key)),
        _number(h.get(cid_key)),
        _s(h.get(exten_key)),
        _STATES.get(_s(h.get(state_key)), "other"),
    )


def _timestamp(value: object, fallback: datetime) -> datetime:
    text = _s(value)
    if text:
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return fallback


# ---------------------------------------------------------------- handlers


def _channel_event(kind: type[ChannelCreated] | type[ChannelStateChanged]) -> Handler:
    def handle(h: Headers, at: datetime) -> Event | None:
        channel = _channel(h)
        linkedid = _s(h.get("Linkedid"))
        if channel is None or not linkedid:
            return None
        return kind(at, linkedid, channel)

    return handle


def _hangup(h: Headers, at: datetime) -> Event | None:
    channel = _channel(h)
    linkedid = _s(h.get("Linkedid"))
    if channel is None or not linkedid:
        return None
    return ChannelHungUp(at, linkedid, channel, _int(h.get("Cause")), _s(h.get("Cause-txt")))


def _dial(h: Headers, at: datetime, end: bool) -> Event | None:
    target = _channel(h, "Dest")
    if target is None:
        return None
    # an Originate's first dial has no calling channel: only Dest* headers
    linkedid = _s(h.get("Linkedid")) or _s(h.get("DestLinkedid"))
    if not linkedid:
        return None
    caller = _channel(h)
    if end:
        status = _DIAL_STATUSES.get(_s(h.get("DialStatus")).upper(), "other")
        return DialEnded(at, linkedid, caller, target, status)
    return DialStarted(at, linkedid, caller, target, _s(h.get("DialString")))


def _queue_caller(h: Headers, at: datetime) -> Event | None:
    caller = _channel(h)
    linkedid = _s(h.get("Linkedid"))
    queue = _s(h.get("Queue"))
    if caller is None or not linkedid or not queue:
        return None
    name = _s(h.get("Event"))
    if name == "QueueCallerJoin":
        return QueueCallerJoined(at, linkedid, caller, queue, _int(h.get("Position")))
    if name == "QueueCallerAbandon":
        return QueueCallerAbandoned(at, linkedid, caller, queue, _int(h.get("HoldTime")))
    return QueueCallerLeft(at, linkedid, caller, queue)


def _agent(h: Headers, at: datetime) -> Event | None:
    caller = _channel(h)
    linkedid = _s(h.get("Linkedid"))
    member = _s(h.get("Interface"))
    if caller is None or not linkedid or not member:
        return None
    target = _channel(h, "Dest")
    queue = _s(h.get("Queue"))
    name = _s(h.get("MemberName"))
    device = member_device(member)
    kind = _s(h.get("Event"))
    if kind == "AgentCalled":
        return AgentRinging(at, linkedid, caller, target, queue, member, name, device)
    if kind == "AgentConnect":
        hold, ring = _int(h.get("HoldTime")), _int(h.get("RingTime"))
        return AgentAnswered(at, linkedid, caller, target, queue, member, name, device, hold, ring)
    if kind == "AgentRingNoAnswer":
        ring = _int(h.get("RingTime"))
        return AgentMissed(at, linkedid, caller, target, queue, member, name, device, ring)
    hold, talk = _int(h.get("HoldTime")), _int(h.get("TalkTime"))
    reason = _s(h.get("Reason"))
    return AgentCompleted(
        at, linkedid, caller, target, queue, member, name, device, hold, talk, reason
    )


def _bridge(h: Headers, at: datetime) -> Event | None:
    channel = _channel(h)
    linkedid = _s(h.get("Linkedid"))
    bridge = _s(h.get("BridgeUniqueid"))
    if channel is None or not linkedid or not bridge:
        return None
    if _s(h.get("Event")) == "BridgeEnter":
        return BridgeEntered(at, linkedid, channel, bridge)
    return BridgeLeft(at, linkedid, channel, bridge)


def _blind_transfer(h: Headers, at: datetime) -> Event | None:
    linkedid = _s(h.get("TransfererLinkedid")) or _s(h.get("TransfereeLinkedid"))
    if not linkedid:
        return None
    return BlindTransferred(
        at,
        linkedid,
        _s(h.get("Result")) == "Success",
        _channel(h, "Transferer"),
        _channel(h, "Transferee"),
        _s(h.get("Extension")),
        _s(h.get("Context")),
    )


def _attended_transfer(h: Headers, at: datetime) -> Event | None:
    linkedid = _s(h.get("OrigTransfererLinkedid")) or _s(h.get("TransfereeLinkedid"))
    if not linkedid:
        return None
    return AttendedTransferred(
        at,
        linkedid,
        _s(h.get("Result")) == "Success",
        _channel(h, "OrigTransferer"),
        _channel(h, "SecondTransferer"),
        _channel(h, "Transferee"),
        _channel(h, "TransferTarget"),
        _s(h.get("SecondTransfererLinkedid")),
    )


def _variable(h: Headers, at: datetime) -> Event | None:
    # the commonest AMI event: decide on the name before building anything
    name = _s(h.get("Variable")).lstrip("_")
    if not name.startswith(VARIABLE_PREFIX):
        return None
    channel = _channel(h)
    linkedid = _s(h.get("Linkedid"))
    if channel is None or not linkedid:
        return None
    return VariableSet(at, linkedid, channel, name, _s(h.get("Value")))


def _originate(h: Headers, at: datetime) -> Event | None:
    uniqueid = _s(h.get("Uniqueid"))
    return OriginateFinished(
        at,
        _s(h.get("ActionID")),
        _s(h.get("Response")) == "Success",
        _int(h.get("Reason")),
        "" if uniqueid in _UNKNOWN else uniqueid,
        _s(h.get("Channel")),
        _s(h.get("Exten")),
    )


def _member_pause(h: Headers, at: datetime) -> Event | None:
    member = _s(h.get("Interface"))
    if not member:
        return None
    reason = _s(h.get("PausedReason")) or _s(h.get("Reason"))
    return QueueMemberPaused(
        at,
        _s(h.get("Queue")),
        member,
        _s(h.get("MemberName")),
        member_device(member),
        _s(h.get("Paused")) == "1",
        reason,
    )


def _member_status(h: Headers, at: datetime) -> Event | None:
    member = _s(h.get("Interface"))
    if not member:
        return None
    return QueueMemberStateChanged(
        at,
        _s(h.get("Queue")),
        member,
        _s(h.get("MemberName")),
        member_device(member),
        _int(h.get("Status")),
        _s(h.get("Paused")) == "1",
        _s(h.get("InCall")) == "1",
    )


def _link_ready(h: Headers, at: datetime) -> Event | None:
    return LinkReady(at)


Handler = Callable[[Headers, datetime], Event | None]

_HANDLERS: dict[str, Handler] = {
    "Newchannel": _channel_event(ChannelCreated),
    "Newstate": _channel_event(ChannelStateChanged),
    "Hangup": _hangup,
    "DialBegin": lambda h, at: _dial(h, at, end=False),
    "DialEnd": lambda h, at: _dial(h, at, end=True),
    "QueueCallerJoin": _queue_caller,
    "QueueCallerLeave": _queue_caller,
    "QueueCallerAbandon": _queue_caller,
    "AgentCalled": _agent,
    "AgentConnect": _agent,
    "AgentRingNoAnswer": _agent,
    "AgentComplete": _agent,
    "BridgeEnter": _bridge,
    "BridgeLeave": _bridge,
    "BlindTransfer": _blind_transfer,
    "AttendedTransfer": _attended_transfer,
    "VarSet": _variable,
    "OriginateResponse": _originate,
    "QueueMemberPause": _member_pause,
    "QueueMemberPaused": _member_pause,  # Asterisk 11's name
    "QueueMemberStatus": _member_status,
    "FullyBooted": _link_ready,
    "Reload": _link_ready,
}
# every header name read above, to re-case messages from parsers that lowercase keys
_KNOWN = {
    *(k for keys in _KEYS.values() for k in keys),
    *("Event", "Timestamp", "Linkedid", "DestLinkedid", "Cause", "Cause-txt", "DialString"),
    *("DialStatus", "Queue", "Position", "HoldTime", "RingTime", "TalkTime", "Reason"),
    *("Interface", "MemberName", "BridgeUniqueid", "Result", "Extension", "Context"),
    *("TransfererLinkedid", "TransfereeLinkedid", "OrigTransfererLinkedid"),
    *("SecondTransfererLinkedid", "Variable", "Value", "ActionID", "Response", "Paused"),
    *("PausedReason", "Status", "InCall", "Exten", "Duration", "Application"),
    "ApplicationData",
}
_CANONICAL = {k.lower(): k for k in _KNOWN}


def _plain(message: Mapping[str, Any]) -> Headers:
    if type(message) is dict:
        headers: Headers = message
    elif isinstance(message, CaseInsensitiveDict):
        # panoramisk 1.4 keeps {lowercased: (key as sent, value)}; one pass beats
        # its per-lookup lowercasing
        headers = dict(message._store.values())
    else:
        headers = dict(message.items())
    if "Event" not in headers:
        headers = {_CANONICAL.get(str(k).lower(), k): v for k, v in headers.items()}
    return headers


def translate(message: Mapping[str, Any], received_at: datetime) -> Event | None:
    """The typed event for one AMI message, or None (unknown, irrelevant or garbled)."""
    try:
        headers = _plain(message)
        handler = _HANDLERS.get(_s(headers.get("Event")))
        if handler is None:
            return None
        return handler(headers, _timestamp(headers.get("Timestamp"), received_at))
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
        # never let one bad message stop the stream; the fuzz test keeps this rare
        return None


def translate_members(
    rows: Iterable[Mapping[str, Any]], taken_at: datetime
) -> list[QueueMemberStateChanged | QueueMemberPaused]:
    """A resync's ``QueueMember`` rows as member events: each phone's state and pause."""
    events: list[QueueMemberStateChanged | QueueMemberPaused] = []
    for row in rows:
        try:
            headers = _plain(row)
            state, pause = _member_status(headers, taken_at), _member_pause(headers, taken_at)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
            continue  # as translate(): one bad row never stops the rest
        events += [
            e for e in (state, pause) if isinstance(e, QueueMemberStateChanged | QueueMemberPaused)
        ]
    return events


def translate_channels(rows: Iterable[Mapping[str, Any]], taken_at: datetime) -> list[CallEvent]:
    """A resync's ``CoreShowChannel`` rows as the events that would have built those calls.

    For a listener that starts (or reconnects) while calls are up: each call's channels
    as created, the queue its first channel waits in, and every other channel as dialled
    by the first one: ringing while it is down or ringing, answered when it is up. The
    call tracker can then take over calls it never saw start. Each channel's age
    (``Duration``) dates it; ``taken_at`` dates the rings and answers.
    """
    calls: dict[str, list[tuple[datetime, ChannelInfo, Headers]]] = {}
    for row in rows:
        try:
            headers = _plain(row)
            channel, linkedid = _channel(headers), _s(headers.get("Linkedid"))
            if channel is not None and linkedid:
                started = taken_at - timedelta(seconds=_age(headers.get("Duration")))
                calls.setdefault(linkedid, []).append((started, channel, headers))
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
            continue  # as translate(): one bad row never stops the rest
    events: list[CallEvent] = []
    for linkedid, legs in calls.items():
        legs.sort(key=lambda leg: leg[0])
        first = next((leg for leg in legs if leg[1].uniqueid == linkedid), legs[0])
        events += [ChannelCreated(at, linkedid, channel) for at, channel, _ in legs]
        at, caller, headers = first
        queue = _s(headers.get("ApplicationData")).split(",", 1)[0]
        if _s(headers.get("Application")) == "Queue" and queue:
            events.append(QueueCallerJoined(at, linkedid, caller, queue, None))
        for at, channel, _ in legs:
            if channel is caller:
                continue
            if channel.state == "up":
                events.append(DialEnded(taken_at, linkedid, caller, channel, "answer"))
            elif channel.state in ("down", "ringing"):
                events.append(DialStarted(at, linkedid, caller, channel, ""))
    return events


def _age(value: object) -> int:
    """``Duration: 01:02:03`` -> 3723 seconds; 0 when absent or garbled."""
    parts = _s(value).split(":")
    if not all(part.isdigit() and len(part) <= 6 for part in parts):
        return 0
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds
