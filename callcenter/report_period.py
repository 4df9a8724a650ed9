"""The period a report covers, as a manager asks for it: whole days in the center's zone,
broken down by hour, day, week or month.

``from`` and ``to`` are dates (both included); a report of one day by hour is the day's
24 hours. Boundaries are local midnights, so a period is a whole number of UTC hours in
every zone whose offset is a whole number of hours (all of Russia's): the hourly call
totals then answer it exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.form_errors import FormInvalid, Problem

MAX_DAYS = 366 * 2


class Bucket(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class PeriodError(FormInvalid):
    """The period asked for cannot be reported on; nothing was read."""


@dataclass(frozen=True)
class ReportPeriod:
    first_day: date
    last_day: date  # included
    bucket: Bucket
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.zone).astimezone(
            UTC
        )

    @property
    def whole_hours(self) -> bool:
        """True when every boundary of the period and of its buckets is a UTC hour."""
        offsets = {
            self.start.astimezone(self.zone).utcoffset(),
            self.end.astimezone(self.zone).utcoffset(),
        }
        return all(
            offset is not None and offset % timedelta(hours=1) == timedelta() for offset in offsets
        )

    def as_query(self) -> dict[str, str]:
        return {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "group": self.bucket.value,
        }


def _day(text: str, field: str, errors: dict[str, Problem | str]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = "A date as YYYY-MM-DD"
        return None


def parse_period(
    query: dict[str, str], zone: ZoneInfo, today: date, default_bucket: Bucket = Bucket.DAY
) -> ReportPeriod:
    """``?from=2026-11-01&to=2026-11-30&group=day``; without dates, today alone."""
    errors: dict[str, Problem | str] = {}
    first = _day(query["from"], "from", errors) if query.get("from") else today
    last = _day(query["to"], "to", errors) if query.get("to") else first
    try:
        bucket = Bucket(query.get("group") or default_bucket)
    except ValueError:
        errors["group"] = "Group by hour, day, week or month"
        bucket = default_bucket
    if first is not None and last is not None:
        if last < first:
            errors["to"] = "The period ends before it starts"
        elif (last - first).days >= MAX_DAYS:
            errors["to"] = Problem("At most %(days)s days at a time", {"days": str(MAX_DAYS)})
    if errors or first is None or last is None:
        raise PeriodError(errors)
    return ReportPeriod(first, last, bucket, zone)
