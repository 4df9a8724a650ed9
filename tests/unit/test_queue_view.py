"""The admin's queue page: the PBX's members matched to users (a pure function)."""

from __future__ import annotations

from callcenter.models import User
from callcenter.queue_view import queue_rows
from callcenter.telephony import QueueCallerState, QueueMemberState, QueueReport


def test_queue_members_are_matched_to_users_by_device() -> None:
    anna = User(id=1, full_name="Анна", interface="PJSIP/op101", is_active=True)
    gone = User(id=2, full_name="Уволен", interface="PJSIP/op102", is_active=False)

    def member(queue: str, device: str) -> QueueMemberState:
        return QueueMemberState(queue, device, device, False, "", False, True, 0)

    report = QueueReport(
        members=(member("support", "pjsip/OP101"), member("support", "PJSIP/op102")),
        callers=(QueueCallerState("sales", 1, "+74951234567", "", 12, "c1"),),
    )
    rows = queue_rows(report, [anna, gone])
    assert [(r.name, r.waiting) for r in rows] == [("sales", 1), ("support", 0)]
    assert [m.user for m in rows[1].members] == [anna, None]
