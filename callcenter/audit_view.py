"""Reading the audit log: newest first, filtered by who, what and when, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import Problems, text_field, whole_number
from callcenter.models import AuditEntry, User

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    # "contact" finds contact.read and contact.update; "contact.read" only itself
    action: str = ""
    day_from: date | None = None
    day_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_name: str | None
    actor_login: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_next: bool


def _day(raw: str, name: str, problems: Problems) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.add(name, "A date like 2025-03-31.")
        return None


def read_filter(raw: Mapping[str, str]) -> AuditFilter:
    problems = Problems()
    actor = text_field(raw, "actor")
    action = text_field(raw, "action", 100).lower()
    page = text_field(raw, "page")
    day_from = _day(text_field(raw, "from"), "from", problems)
    day_to = _day(text_field(raw, "to"), "to", problems)
    problems.raise_any()
    return AuditFilter(
        actor_id=whole_number(actor),
        action=action,
        day_from=day_from,
        day_to=day_to,
        page=max(1, min(whole_number(page, 8) or 1, 10_000)),
    )


def _where(wanted: AuditFilter, zone: ZoneInfo) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if wanted.actor_id is not None:
        clauses.append(AuditEntry.actor_id == wanted.actor_id)
    if wanted.action:
        escaped = wanted.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(
            or_(AuditEntry.action == wanted.action, AuditEntry.action.like(escaped + ".%"))
        )
    # the reader's days, not UTC's: "today" in Vladivostok starts at 14:00 UTC the day before
    if wanted.day_from is not None:
        start = datetime.combine(wanted.day_from, time(), zone)
        clauses.append(AuditEntry.occurred_at >= start)
    if wanted.day_to is not None:
        end = datetime.combine(wanted.day_to + timedelta(days=1), time(), zone)
        clauses.append(AuditEntry.occurred_at < end)
    return clauses


async def audit_page(session: AsyncSession, wanted: AuditFilter, zone: ZoneInfo) -> AuditPage:
    rows = await session.execute(
        select(AuditEntry, User.full_name, User.login)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(*_where(wanted, zone))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .offset((wanted.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    found = [AuditRow(entry, name, login) for entry, name, login in rows]
    return AuditPage(found[:PAGE_SIZE], wanted.page, len(found) > PAGE_SIZE)


def details_text(details: Mapping[str, Any]) -> str:
    """The entry's details as one readable line (``key=value, ...``)."""
    return ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
