"""The PBX's queues as the admin page shows them: each member's phone matched to a user."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.models import User
from callcenter.telephony import QueueMemberState, QueueReport


@dataclass(frozen=True)
class QueueMemberRow:
    member: QueueMemberState
    user: User | None
    """Whose phone this is; None when no active user has this device."""


@dataclass(frozen=True)
class QueueRow:
    name: str
    members: list[QueueMemberRow]
    waiting: int


def queue_rows(report: QueueReport, users: Iterable[User]) -> list[QueueRow]:
    # devices are compared case-insensitively, as the PBX does
    by_device = {u.interface.lower(): u for u in users if u.interface and u.is_active}
    names = sorted({m.queue for m in report.members} | {c.queue for c in report.callers})
    return [
        QueueRow(
            name=name,
            members=[
                QueueMemberRow(m, by_device.get(m.device.lower()))
                for m in sorted(report.members, key=lambda m: m.device.lower())
                if m.queue == name
            ],
            waiting=sum(1 for c in report.callers if c.queue == name),
        )
        for name in names
    ]
