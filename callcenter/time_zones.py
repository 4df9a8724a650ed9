"""The time zones a user may pick: Russia's eleven first, then the neighbours'."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

RUSSIA = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
)
OTHERS = (
    "Europe/Minsk",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Bishkek",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Baku",
    "Europe/Istanbul",
    "Asia/Dubai",
    "Europe/Berlin",
    "Europe/London",
    "UTC",
)
OFFERED = RUSSIA + OTHERS


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Any zone of the IANA database this machine has, not only the offered ones."""
    if name not in _known():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def choices(current: str | None = None) -> tuple[str, ...]:
    """The offered zones, plus ``current`` when someone set a zone outside the list."""
    if current and current not in OFFERED and is_time_zone(current):
        return (current, *OFFERED)
    return OFFERED
