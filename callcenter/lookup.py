"""Caller-ID lookup: who is calling, and what the operator should know before answering.

One query finds the contact by E.164 (``contact_phones.e164`` is unique) and brings
the newest interactions and what is still open along. The caller
bounds the whole lookup with a deadline (``lookup_caller``), so a slow database
never holds back a screen-pop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.phones import to_e164
from callcenter.write_retry import reason_of

log = logging.getLogger(__name__)

RECENT_INTERACTIONS = 5
OPEN_ITEMS = 5
# contacts merged into another are followed at most this far (a merge chain is short)
_MAX_MERGE_HOPS = 3


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    kind: str
    summary: str


@dataclass(frozen=True)
class OpenItem:
    id: int
    title: str
    due_at: datetime | None = None
    stage: str | None = None


@dataclass(frozen=True)
class ClientCard:
    """What the screen-pop shows about a known caller."""

    contact_id: int
    name: str
    company: str | None
    manager_id: int | None
    manager_name: str | None
    status: str
    phones: tuple[str, ...]
    recent: tuple[TimelineEntry, ...] = ()
    open_tasks: tuple[OpenItem, ...] = ()
    open_deals: tuple[OpenItem, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "company": self.company,
            "manager_id": self.manager_id,
            "manager_name": self.manager_name,
            "status": self.status,
            "phones": list(self.phones),
            "recent": [
                {"at": e.occurred_at.isoformat(), "kind": e.kind, "summary": e.summary}
                for e in self.recent
            ],
            "open_tasks": [
                {"id": t.id, "title": t.title, "due_at": t.due_at.isoformat() if t.due_at else None}
                for t in self.open_tasks
            ],
            "open_deals": [
                {"id": d.id, "title": d.title, "stage": d.stage} for d in self.open_deals
            ],
        }


@dataclass(frozen=True)
class Lookup:
    """The outcome of a caller-ID lookup."""

    number: str
    e164: str | None
    card: ClientCard | None = None
    timed_out: bool = False
    failed: bool = False

    @property
    def known(self) -> bool:
        return self.card is not None


def display_name(
    display: str | None, last: str | None, first: str | None, middle: str | None
) -> str:
    """How a client is named everywhere: the name typed for display, else "Last First Middle"."""
    return display or " ".join(p for p in (last, first, middle) if p) or "—"


def contact_name(contact: Any) -> str:
    """A ``Contact``, or any row with its four name columns."""
    return display_name(
        contact.display_name, contact.last_name, contact.first_name, contact.middle_name
    )


# One round trip for the whole card: the pop waits for it, and every query costs a
# network round trip plus a planner pass. Lateral subqueries keep each list bounded.
_CARD_SQL = text(
    """
    SELECT c.id, c.first_name, c.last_name, c.middle_name, c.display_name, c.status,
           c.manager_id, c.merged_into_id, co.name AS company, m.full_name AS manager_name,
           (SELECT coalesce(json_agg(p.e164 ORDER BY p.id), '[]')
              FROM contact_phones p WHERE p.contact_id = c.id) AS phones,
           (SELECT coalesce(json_agg(i ORDER BY i.occurred_at DESC), '[]') FROM (
              SELECT occurred_at, kind, coalesce(summary, '') AS summary FROM interactions
               WHERE contact_id = c.id ORDER BY occurred_at DESC LIMIT :recent) i) AS recent,
           (SELECT coalesce(json_agg(t ORDER BY t.due_at NULLS LAST), '[]') FROM (
              SELECT id, title, due_at FROM tasks
               WHERE contact_id = c.id AND status = 'open'
               ORDER BY due_at NULLS LAST LIMIT :open_items) t) AS tasks,
           (SELECT coalesce(json_agg(d ORDER BY d.id DESC), '[]') FROM (
              SELECT d.id, d.title, s.name AS stage FROM deals d
                JOIN pipeline_stages s ON s.id = d.stage_id
               WHERE d.contact_id = c.id AND NOT s.is_won AND NOT s.is_lost
               ORDER BY d.id DESC LIMIT :open_items) d) AS deals
      FROM contacts c
      LEFT JOIN companies co ON co.id = c.company_id
      LEFT JOIN users m ON m.id = c.manager_id
     WHERE c.id = coalesce(
             :contact_id, (SELECT contact_id FROM contact_phones WHERE e164 = :e164))
    """
)


def _json(value: Any) -> Any:
    # asyncpg hands json columns over as text
    return json.loads(value) if isinstance(value, str) else value


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def client_card(session: AsyncSession, e164: str) -> ClientCard | None:
    params: dict[str, Any] = {
        "e164": e164,
        "contact_id": None,
        "recent": RECENT_INTERACTIONS,
        "open_items": OPEN_ITEMS,
    }
    row = (await session.execute(_CARD_SQL, params)).one_or_none()
    for _ in range(_MAX_MERGE_HOPS):
        if row is None or row.merged_into_id is None:
            break
        params["contact_id"] = row.merged_into_id
        row = (await session.execute(_CARD_SQL, params)).one_or_none()
    if row is None:
        return None
    return ClientCard(
        contact_id=row.id,
        name=contact_name(row),
        company=row.company,
        manager_id=row.manager_id,
        manager_name=row.manager_name,
        status=row.status,
        phones=tuple(_json(row.phones)),
        recent=tuple(
            TimelineEntry(datetime.fromisoformat(e["occurred_at"]), e["kind"], e["summary"])
            for e in _json(row.recent)
        ),
        open_tasks=tuple(
            OpenItem(t["id"], t["title"], due_at=_at(t["due_at"])) for t in _json(row.tasks)
        ),
        open_deals=tuple(OpenItem(d["id"], d["title"], stage=d["stage"]) for d in _json(row.deals)),
    )


async def lookup_caller(
    db: async_sessionmaker[AsyncSession], number: str, region: str, *, deadline: float
) -> Lookup:
    """Find the caller within ``deadline`` seconds; past it the caller is treated as unknown.

    Anonymous and unparseable numbers are unknown at once, without a query.
    """
    e164 = to_e164(number, region) if number else None
    if e164 is None:
        return Lookup(number, None)
    try:
        async with asyncio.timeout(deadline), db() as session:
            return Lookup(number, e164, await client_card(session, e164))
    except TimeoutError:
        return Lookup(number, e164, timed_out=True)
    except (SQLAlchemyError, OSError) as exc:
        # the database is away: the operator still gets the pop, with the number only
        if _outage_notice.due():
            log.warning(
                "caller-ID lookup failed (%s): pops show the number only until the database"
                " answers; told once a minute",
                reason_of(exc),
            )
        return Lookup(number, e164, failed=True)


class _Notice:
    """Says something at most once per ``every`` seconds: during a database outage every
    ringing call fails its lookup the same way, and a line per call would bury the log."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._told_at: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._told_at is not None and now - self._told_at < self.every:
            return False
        self._told_at = now
        return True


_outage_notice = _Notice(60.0)
