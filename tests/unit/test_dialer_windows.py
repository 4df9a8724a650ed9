"""Calling windows in the callee's local time, across Russia's zones and a DST change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.form_errors import FormInvalid
from dialer.windows import (
    QUIET_HOURS,
    may_call_now,
    next_opening,
    number_zones,
    parse_windows,
)

WEEKDAYS_9_TO_21 = {day: [["09:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
MONDAY = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, no DST anywhere near


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def test_the_window_is_read_in_each_zones_own_time() -> None:
    windows = parse_windows(WEEKDAYS_9_TO_21)
    six_thirty = at(MONDAY, 6, 30)  # Vladivostok 16:30, Moscow 09:30, Kaliningrad 08:30
    assert may_call_now(windows, ["Asia/Vladivostok"], six_thirty)
    assert may_call_now(windows, ["Europe/Moscow"], six_thirty)
    assert not may_call_now(windows, ["Europe/Kaliningrad"], six_thirty)
    eleven = at(MONDAY, 11)  # Vladivostok 21:00: closed from that minute on
    assert not may_call_now(windows, ["Asia/Vladivostok"], eleven)
    assert may_call_now(windows, ["Asia/Vladivostok"], at(MONDAY, 10, 59))
    assert next_opening(windows, ["Europe/Kaliningrad"], six_thirty) == at(MONDAY, 7)
    # Friday evening in Vladivostok: the next opening is Monday morning there
    friday_late = datetime(2025, 3, 7, 12, tzinfo=UTC)
    assert next_opening(windows, ["Asia/Vladivostok"], friday_late) == datetime(
        2025, 3, 9, 23, tzinfo=UTC
    )


def test_landlines_have_one_zone_and_a_russian_mobile_many() -> None:
    assert number_zones("+74232123456") == ("Asia/Vladivostok",)
    # phonenumbers says Europe/Bucharest, whose summer time Kaliningrad does not keep
    assert number_zones("+74012123456") == ("Europe/Kaliningrad",)
    mobile = number_zones("+79161112233")
    assert {"Europe/Kaliningrad", "Europe/Moscow", "Asia/Kamchatka"} <= set(mobile)
    assert len(mobile) > 10


def test_an_ambiguous_mobile_is_called_only_while_every_zone_is_open() -> None:
    windows = parse_windows(WEEKDAYS_9_TO_21)
    mobile = number_zones("+79161112233")
    # Kaliningrad (UTC+2) opens at 07:00 UTC, Kamchatka (UTC+12) closes at 09:00 UTC
    assert not may_call_now(windows, mobile, at(MONDAY, 6, 59))
    assert may_call_now(windows, mobile, at(MONDAY, 7))
    assert may_call_now(windows, mobile, at(MONDAY, 8, 59))
    assert not may_call_now(windows, mobile, at(MONDAY, 9))
    assert may_call_now(windows, ["Europe/Moscow"], at(MONDAY, 9))  # a landline would be
    assert next_opening(windows, mobile, at(MONDAY, 9)) == datetime(2025, 3, 4, 7, tzinfo=UTC)
    assert not may_call_now(windows, [], at(MONDAY, 8))  # no zone at all: never


def test_summer_time_moves_the_window_in_utc() -> None:
    windows = parse_windows({"sun": [["09:00", "10:00"]]})
    berlin = ["Europe/Berlin"]
    # winter time (UTC+1) on 23 March, summer time (UTC+2) from 30 March 2025
    assert may_call_now(windows, berlin, datetime(2025, 3, 23, 8, 30, tzinfo=UTC))
    assert not may_call_now(windows, berlin, datetime(2025, 3, 30, 8, 30, tzinfo=UTC))
    assert may_call_now(windows, berlin, datetime(2025, 3, 30, 7, 30, tzinfo=UTC))
    saturday = datetime(2025, 3, 29, 12, tzinfo=UTC)
    assert next_opening(windows, berlin, saturday) == datetime(2025, 3, 30, 7, tzinfo=UTC)
    # and back on 26 October
    autumn = datetime(2025, 10, 25, 12, tzinfo=UTC)
    assert next_opening(windows, berlin, autumn) == datetime(2025, 10, 26, 8, tzinfo=UTC)


def test_quiet_hours_cap_every_campaign() -> None:
    quiet_from, quiet_until = QUIET_HOURS
    assert (quiet_from.hour, quiet_until.hour) == (21, 9)
    wide = parse_windows({"mon": [["07:00", "24:00"]]})
    moscow = ["Europe/Moscow"]  # UTC+3
    assert not may_call_now(wide, moscow, at(MONDAY, 5))  # 08:00 there
    assert may_call_now(wide, moscow, at(MONDAY, 6))  # 09:00
    assert not may_call_now(wide, moscow, at(MONDAY, 18))  # 21:00
    assert not may_call_now(wide, moscow, at(MONDAY, 20, 30))  # 23:30
    # an empty setting means every day within the cap, weekends too
    every_day = parse_windows({})
    sunday = datetime(2025, 3, 9, 10, tzinfo=UTC)
    assert may_call_now(every_day, moscow, sunday)
    assert not may_call_now(wide, moscow, sunday)  # a day left out is a day off
    night_only = parse_windows({"mon": [["22:00", "24:00"]], "tue": [["00:00", "08:00"]]})
    assert next_opening(night_only, moscow, at(MONDAY, 0)) is None


def test_several_intervals_a_day() -> None:
    windows = parse_windows({"mon": [["14:00", "18:00"], ["10:00", "12:00"]]})
    moscow = ["Europe/Moscow"]
    assert may_call_now(windows, moscow, at(MONDAY, 7))  # 10:00
    assert not may_call_now(windows, moscow, at(MONDAY, 9, 30))  # lunch
    assert next_opening(windows, moscow, at(MONDAY, 9, 30)) == at(MONDAY, 11)


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"mon": [["21:00", "09:00"]]}, "calling_windows.mon", "ends before it starts"),
        ({"tue": [["09:00", "13:00"], ["12:00", "18:00"]]}, "calling_windows.tue", "overlap"),
        ({"wed": [["9:00", "18:00"]]}, "calling_windows.wed", "HH:MM"),
        ({"thu": [["09:00", "24:30"]]}, "calling_windows.thu", "HH:MM"),
        ({"fri": [["09:60", "18:00"]]}, "calling_windows.fri", "HH:MM"),
        ({"sat": "09:00-18:00"}, "calling_windows.sat", "pairs"),
        ({"sat": [["09:00"]]}, "calling_windows.sat", "pairs"),
        ({"monday": [["09:00", "18:00"]]}, "calling_windows", "Unknown weekday"),
        ([["09:00", "18:00"]], "calling_windows", "mapping"),
    ],
)
def test_bad_windows_are_refused_with_the_day_named(raw: object, field: str, message: str) -> None:
    with pytest.raises(FormInvalid) as refused:
        parse_windows(raw)
    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field]
