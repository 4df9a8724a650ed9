"""The floor of one campaign as the pacer sees it: operators from the PBX, calls from the engine.

Operators are the members of the dialer queue with the campaign's penalty (see
``dialer.queue_members``): ready when not paused and their phone is free, busy
otherwise. Calls are the engine's flights. Pure: the caller supplies the queue
report, the flights, the clock and the abandon counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass

from callcenter.telephony import QueueMemberState, QueueReport
from dialer.dial_state import DialerState
from dialer.flights import Flight

DIALER_QUEUE = "dialer"


@dataclass(frozen=True)
class AbandonCounts:
    answered: int = 0  # answered by a person over the campaign's window, abandoned included
    abandoned: int = 0


def campaign_members(report: QueueReport, campaign_id: int) -> list[QueueMemberState]:
    return [m for m in report.members if m.queue == DIALER_QUEUE and m.penalty == campaign_id]


def is_ready(member: QueueMemberState) -> bool:
    return not member.paused and member.available and not member.in_call


def floor_state(
    now: float,
    members: Iterable[QueueMemberState],
    flights: Iterable[Flight],
    busy_since: MutableMapping[str, float],
    connected: Mapping[str, float],
    counts: AbandonCounts = AbandonCounts(),
) -> DialerState:
    """The ``DialerState`` of one campaign.

    ``busy_since`` (device -> when first seen busy) is the caller's memory across
    rounds; it is updated here. ``connected`` (device -> when) names the phones the
    engine's own calls reached, which count as busy even if the queue report is
    older than that news.
    """
    ready, talking = 0, []
    for member in members:
        device = member.device.lower()
        if member.paused:
            busy_since.pop(device, None)
        elif is_ready(member) and device not in connected:
            busy_since.pop(device, None)
            ready += 1
        else:
            since = connected.get(device) or busy_since.setdefault(device, now)
            talking.append(since)
    ringing, waiting = [], 0
    for flight in flights:
        if flight.ringing:
            ringing.append(flight.placed_at)
        elif flight.waiting:
            waiting += 1
    return DialerState(
        now=now,
        ready_operators=ready,
        talking_since=talking,
        wrapping_since=(),
        ringing_since=ringing,
        waiting_calls=waiting,
        answered_in_window=counts.answered,
        abandoned_in_window=counts.abandoned,
    )
