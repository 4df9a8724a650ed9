"""When a number may be called: the campaign's calling windows in the callee's local time.

A campaign keeps ``calling_windows`` as ``{"mon": [["09:00", "13:00"], ["14:00", "21:00"]],
...}``: per weekday, the intervals (start included, end excluded; "24:00" ends a day)
in the callee's own time. An empty mapping means "every day, within the quiet-hours
cap"; a weekday missing from a non-empty mapping means no calls that day. An interval
never crosses midnight: split it at "24:00" into two days.

A number whose zone is unknown or ambiguous (a Russian mobile could be in any of
~16 zones) may be called only while the window is open in EVERY zone it could be in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_time_zones

from callcenter.form_errors import Problems
from callcenter.phone_geography import geography
from callcenter.time_zones import RUSSIA, is_time_zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# No Russian statute fixes hours for sales calls (230-FZ limits only debt collection,
# to 08:00-22:00 on working days and 09:00-20:00 on days off), so this is the
# product's own hard cap, applied on top of every campaign's windows: a campaign can
# narrow its hours, never widen them. Quiet from 21:00 until 09:00, callee's time.
QUIET_HOURS = (time(21, 0), time(9, 0))

# phonenumbers' data names Kaliningrad's UTC+2 zone "Europe/Bucharest", whose summer
# time Kaliningrad does not keep; a +7 number there is in Europe/Kaliningrad
_RUSSIAN_FIXES = {"Europe/Bucharest": "Europe/Kaliningrad"}
# a number phonenumbers cannot place is treated as possibly anywhere in Russia
UNPLACED_ZONES = RUSSIA
# how far ahead next_opening looks: every weekday comes round once in it
_HORIZON_DAYS = 8

Interval = tuple[time, time | None]  # end None = midnight at the end of the day


@dataclass(frozen=True)
class CallingWindows:
    """Open intervals per weekday, Monday first, already cut to the quiet-hours cap."""

    days: tuple[tuple[Interval, ...], ...]

    def is_open(self, local: datetime) -> bool:
        moment = local.time()
        return any(
            start <= moment and (end is None or moment < end)
            for start, end in self.days[local.weekday()]
        )

    def starts(self, weekday: int) -> tuple[time, ...]:
        return tuple(start for start, _ in self.days[weekday])


def parse_windows(raw: Any) -> CallingWindows:
    """A campaign's stored or submitted ``calling_windows``; FormInvalid names each bad day."""
    if raw is None or raw == {}:
        return _capped({day: [(time(0), None)] for day in WEEKDAYS})
    problems = Problems()
    if not isinstance(raw, Mapping):
        problems.add("calling_windows", "Expected a mapping of weekdays to time intervals.")
        problems.raise_any()
    days: dict[str, list[Interval]] = {}
    for day, intervals in raw.items():
        if day not in WEEKDAYS:
            problems.add("calling_windows", "Unknown weekday %(day)s.", day=str(day))
            continue
        try:
            days[day] = _intervals(intervals)
        except ValueError as error:
            problems.add(f"calling_windows.{day}", str(error))
    problems.raise_any()
    return _capped(days)


def _intervals(raw: Any) -> list[Interval]:
    if not isinstance(raw, list):
        raise ValueError("Expected a list of [start, end] pairs.")
    found: list[Interval] = []
    for pair in raw:
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ValueError("Expected a list of [start, end] pairs.")
        start = _clock(pair[0])
        end = None if pair[1] == "24:00" else _clock(pair[1])
        if end is not None and end <= start:
            raise ValueError("An interval ends before it starts; split it at 24:00.")
        found.append((start, end))
    found.sort(key=lambda interval: interval[0])
    for (_, end), (next_start, _) in pairwise(found):
        if end is None or end > next_start:
            raise ValueError("Intervals overlap.")
    return found


def _clock(raw: Any) -> time:
    """A start or an end before midnight, written "HH:MM"."""
    if not isinstance(raw, str) or len(raw) != 5 or raw[2] != ":":
        raise ValueError("Times are written HH:MM, from 00:00 to 24:00.")
    hours, minutes = raw[:2], raw[3:]
    if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
        raise ValueError("Times are written HH:MM, from 00:00 to 24:00.")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError("Times are written HH:MM, from 00:00 to 24:00.")
    return time(int(hours), int(minutes))


def _capped(days: Mapping[str, list[Interval]]) -> CallingWindows:
    quiet_from, quiet_until = QUIET_HOURS
    capped: list[tuple[Interval, ...]] = []
    for day in WEEKDAYS:
        kept: list[Interval] = []
        for start, end in days.get(day, []):
            start = max(start, quiet_until)
            end = quiet_from if end is None else min(end, quiet_from)
            if start < end:
                kept.append((start, end))
        capped.append(tuple(kept))
    return CallingWindows(tuple(capped))


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def may_call_now(windows: CallingWindows, zones: Iterable[str], now_utc: datetime) -> bool:
    """True when the window is open at ``now_utc`` in every zone; never for no zone at all."""
    zones = tuple(zones)
    return bool(zones) and all(windows.is_open(now_utc.astimezone(_zone(z))) for z in zones)


def next_opening(
    windows: CallingWindows, zones: Iterable[str], now_utc: datetime
) -> datetime | None:
    """The first moment from ``now_utc`` on (UTC) when ``may_call_now`` holds; None if none
    within a week.

    The set of open moments across the zones starts being open either now or at some
    zone's interval start, so those are the only candidates to try, in order.
    """
    zones = tuple(zones)
    if not zones:
        return None
    now_utc = now_utc.astimezone(UTC)
    candidates = {now_utc}
    for name in zones:
        zone = _zone(name)
        today = now_utc.astimezone(zone).date()
        for offset in range(_HORIZON_DAYS):
            day = today + timedelta(days=offset)
            for start in windows.starts(day.weekday()):
                # a start inside a DST gap maps past the gap, which is_open then checks
                moment = datetime.combine(day, start, zone).astimezone(UTC)
                if moment >= now_utc:
                    candidates.add(moment)
    for moment in sorted(candidates):
        if may_call_now(windows, zones, moment):
            return moment
    return None


def lead_zones(time_zone: str | None, e164: str) -> tuple[str, ...]:
    """The zones a lead's callee may be in: its own zone when known, else the number's."""
    if time_zone and is_time_zone(time_zone):
        return _fixed(e164, (time_zone,))
    return number_zones(e164)


@lru_cache(maxsize=50_000)
def number_zones(e164: str) -> tuple[str, ...]:
    """Every zone a number may be in: one for most landlines, many for a Russian mobile."""
    placed = geography(e164).time_zone
    if placed is not None:
        zones: tuple[str, ...] = (placed,)
    else:
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return UNPLACED_ZONES
        zones = tuple(z for z in phone_time_zones.time_zones_for_number(number) if is_time_zone(z))
        if not zones:
            return UNPLACED_ZONES
    return _fixed(e164, zones)


def _fixed(e164: str, zones: tuple[str, ...]) -> tuple[str, ...]:
    if e164.startswith("+7"):
        return tuple(dict.fromkeys(_RUSSIAN_FIXES.get(z, z) for z in zones))
    return zones
