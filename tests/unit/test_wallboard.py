"""The wallboard's picture from call snapshots and member events (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.devices import Operator
from callcenter.events import QueueMemberPaused, QueueMemberStateChanged
from callcenter.tracking import TrackedCall
from callcenter.wallboard import (
    WRAP_UP_SECONDS,
    CampaignDay,
    CampaignInfo,
    CampaignLines,
    DayCounts,
    Wallboard,
)

MOSCOW = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
ANNA = Operator(1, "Анна", "PJSIP/op101")
BORIS = Operator(2, "Борис", "PJSIP/op102")
VERA = Operator(3, "Вера", "PJSIP/op103")
GLEB = Operator(4, "Глеб", "PJSIP/op104")


def call(linkedid: str, **fields: object) -> TrackedCall:
    values: dict[str, object] = {
        "linkedid": linkedid,
        "direction": "inbound",
        "started_at": T0,
        "caller_number": "84951234567",
        "caller_name": "",
        "queue": "support",
    }
    return TrackedCall(**(values | fields))  # type: ignore[arg-type]


def board() -> Wallboard:
    wallboard = Wallboard(zone=MOSCOW, sla_seconds=20, operators=[ANNA, BORIS, VERA, GLEB])
    wallboard.start_day(DayCounts(T0.astimezone(MOSCOW).date(), answered=3, abandoned=1))
    return wallboard


def test_calls_waiting_talking_and_each_operator_s_state() -> None:
    wallboard = board()
    now = T0 + timedelta(seconds=90)
    waiting_long = call("w1", started_at=T0 + timedelta(seconds=10))
    waiting_short = call("w2", started_at=T0 + timedelta(seconds=60), queue="support")
    ringing = call("r1", queue="sales", ringing_devices=("PJSIP/op102",))
    talking = call("t1", answered_device="PJSIP/op101", answered_at=T0 + timedelta(seconds=30))
    wallboard.member_paused(
        QueueMemberPaused(T0, "support", "PJSIP/op103", "op103", "PJSIP/op103", True, "Обед")
    )
    wallboard.member_state(
        QueueMemberStateChanged(
            T0, "support", "PJSIP/op104", "op104", "PJSIP/op104", 5, False, False
        )
    )
    picture = wallboard.snapshot(now, [waiting_long, waiting_short, ringing, talking])

    assert picture["queues"] == {
        "sales": {"waiting": 1, "longest_since": T0.isoformat()},
        "support": {"waiting": 2, "longest_since": (T0 + timedelta(seconds=10)).isoformat()},
    }
    states = {op["name"]: (op["state"], op["reason"]) for op in picture["operators"]}
    assert states == {
        "Анна": ("talking", ""),
        "Борис": ("ringing", ""),
        "Вера": ("paused", "Обед"),
        "Глеб": ("offline", ""),
    }
    talk = next(c for c in picture["calls"] if c["linkedid"] == "t1")
    assert (talk["state"], talk["operator"], talk["since"]) == (
        "talking",
        "Анна",
        (T0 + timedelta(seconds=30)).isoformat(),
    )
    assert picture["today"] == {
        "day": "2026-12-03",
        "answered": 3,
        "abandoned": 1,
        "sla_percent": 0.0,
    }


def test_ended_calls_count_once_in_the_day_and_leave_a_wrap_up() -> None:
    wallboard = board()
    fast = call(
        "a1",
        answered_device="PJSIP/op101",
        answered_at=T0 + timedelta(seconds=5),
        ended_at=T0 + timedelta(seconds=60),
        result="answered",
    )
    slow = call(
        "a2",
        answered_device="PJSIP/op102",
        answered_at=T0 + timedelta(seconds=40),
        ended_at=T0 + timedelta(seconds=70),
        result="answered",
    )
    gone = call("ab", ended_at=T0 + timedelta(seconds=15), result="abandoned")
    outbound = call("o1", direction="outbound", queue=None, ended_at=T0, result="answered")
    for ended in (fast, slow, gone, outbound):
        wallboard.call_ended(ended)
    now = T0 + timedelta(seconds=75)
    picture = wallboard.snapshot(now, [])
    # 3 + 2 answered, 1 + 1 abandoned; within 20 s: the fast one only
    assert picture["today"]["answered"] == 5 and picture["today"]["abandoned"] == 2
    assert picture["today"]["sla_percent"] == round(100 * 1 / 7, 1)
    states = {op["name"]: op["state"] for op in picture["operators"]}
    assert states["Анна"] == "wrap_up" and states["Борис"] == "wrap_up"
    later = wallboard.snapshot(T0 + timedelta(seconds=70 + WRAP_UP_SECONDS + 1), [])
    assert {op["name"]: op["state"] for op in later["operators"]}["Борис"] == "ready"


def test_a_new_day_starts_from_zero() -> None:
    wallboard = board()
    tomorrow = T0 + timedelta(days=1)
    wallboard.call_ended(call("n1", ended_at=tomorrow, result="abandoned"))
    picture = wallboard.snapshot(tomorrow, [])
    assert (picture["today"]["day"], picture["today"]["abandoned"]) == ("2026-12-04", 1)
    assert picture["today"]["answered"] == 0


def test_campaign_progress_counts_the_day_s_attempts_and_shows_the_lines() -> None:
    wallboard = board()
    wallboard.start_campaign_day(T0.astimezone(MOSCOW).date(), {7: CampaignDay(10, 4, 1)})
    wallboard.campaigns = {7: CampaignInfo("Обзвон", 120), 8: CampaignInfo("Опрос", 5)}
    for outcome in ("answered", "abandoned", "busy", "no_answer"):
        wallboard.attempt_settled(7, outcome, T0)
    wallboard.attempt_settled(9, "answered", T0)  # stopped meanwhile: still counted today
    picture = wallboard.snapshot(T0, [], {7: CampaignLines(ringing=3, talking=2)})
    rows = {row["id"]: row for row in picture["campaigns"]}
    assert rows[7] == {
        "id": 7,
        "name": "Обзвон",
        "dialled": 14,
        "picked_up": 6,
        "abandoned": 2,
        "abandon_percent": 33.3,
        "ringing": 3,
        "talking": 2,
        "leads_left": 120,
    }
    assert (rows[8]["dialled"], rows[8]["abandon_percent"], rows[8]["leads_left"]) == (0, None, 5)
    assert (rows[9]["name"], rows[9]["dialled"], rows[9]["leads_left"]) == (None, 1, None)
    assert [row["id"] for row in picture["campaigns"]] == [7, 8, 9]  # by name, unknown last
    # midnight in Moscow: a new day starts from nothing
    tomorrow = T0 + timedelta(hours=13)
    assert wallboard.snapshot(tomorrow, [])["campaigns"][0]["dialled"] == 0
    wallboard.attempt_settled(7, "answered", tomorrow)
    assert wallboard.snapshot(tomorrow, [])["campaigns"][0]["dialled"] == 1
