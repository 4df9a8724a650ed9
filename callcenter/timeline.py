"""A client's timeline: every interaction, newest first, each showing the one it follows from.

Calls reach the timeline through ``callcenter.call_log``, which adds a ``call`` entry when a
call of a known client ends; tasks through ``callcenter.tasks``; status changes through
``callcenter.client_edit``. Pages are cut by keyset (occurred_at, id), so a page stays as
cheap on a client with ten thousand entries as on a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.form_errors import FormInvalid, Problems
from callcenter.models import Call, Contact, Interaction, InteractionKind, User

PAGE_SIZE = 30
MAX_PAGE = 100
MAX_NOTE = 4000
_NO_SUCH_ENTRY = "No such entry on this client's timeline."


@dataclass(frozen=True)
class EntryRef:
    """The earlier entry an entry follows from, enough to name it."""

    id: int
    kind: str
    occurred_at: datetime
    summary: str | None


@dataclass(frozen=True)
class CallFacts:
    id: int
    direction: str
    result: str
    talk_seconds: int | None
    answered_by_id: int | None
    has_recording: bool


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    occurred_at: datetime
    author_name: str | None
    summary: str | None
    payload: dict[str, Any]
    task_id: int | None
    deal_id: int | None
    call: CallFacts | None
    follows: EntryRef | None

    def as_json(self) -> dict[str, Any]:
        call = self.call
        return {
            "id": self.id,
            "kind": self.kind,
            "occurred_at": self.occurred_at.isoformat(),
            "author": self.author_name,
            "summary": self.summary,
            "payload": self.payload,
            "task_id": self.task_id,
            "deal_id": self.deal_id,
            "call": None
            if call is None
            else {
                "id": call.id,
                "direction": call.direction,
                "result": call.result,
                "talk_seconds": call.talk_seconds,
                "recording_url": f"/calls/{call.id}/recording" if call.has_recording else None,
            },
            "follows": None
            if self.follows is None
            else {
                "id": self.follows.id,
                "kind": self.follows.kind,
                "occurred_at": self.follows.occurred_at.isoformat(),
                "summary": self.follows.summary,
            },
        }


@dataclass(frozen=True)
class TimelinePage:
    entries: tuple[Entry, ...]
    # pass as ``before`` for the next (older) page; None on the last page
    next_before: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "entries": [e.as_json() for e in self.entries],
            "next_before": self.next_before,
        }


def _entries_query() -> Any:
    earlier = aliased(Interaction)
    return (
        select(
            Interaction,
            User.full_name,
            Call,
            earlier.id,
            earlier.kind,
            earlier.occurred_at,
            earlier.summary,
        )
        .outerjoin(User, User.id == Interaction.author_id)
        .outerjoin(Call, Call.id == Interaction.call_id)
        .outerjoin(earlier, earlier.id == Interaction.previous_interaction_id)
    )


def _entry(row: Any) -> Entry:
    entry, author, call, earlier_id, kind, at, summary = row
    return Entry(
        id=entry.id,
        kind=entry.kind,
        occurred_at=entry.occurred_at,
        author_name=author,
        summary=entry.summary,
        payload=dict(entry.payload or {}),
        task_id=entry.task_id,
        deal_id=entry.deal_id,
        call=None
        if call is None
        else CallFacts(
            call.id,
            call.direction,
            call.result,
            call.talk_seconds,
            call.answered_by_id,
            bool(call.recording_path),
        ),
        follows=None if earlier_id is None else EntryRef(earlier_id, kind, at, summary),
    )


async def timeline_page(
    session: AsyncSession, contact_id: int, *, before: int | None = None, limit: int = PAGE_SIZE
) -> TimelinePage:
    """Entries older than entry ``before`` (all when None), newest first."""
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        _entries_query()
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        anchor = (
            await session.execute(
                select(Interaction.occurred_at, Interaction.id).where(
                    Interaction.id == before, Interaction.contact_id == contact_id
                )
            )
        ).one_or_none()
        if anchor is None:
            return TimelinePage((), None)
        query = query.where(
            tuple_(Interaction.occurred_at, Interaction.id) < tuple_(anchor[0], anchor[1])
        )
    entries = [_entry(row) for row in await session.execute(query)]
    more = len(entries) > limit
    entries = entries[:limit]
    return TimelinePage(tuple(entries), entries[-1].id if more else None)


async def timeline_entry(session: AsyncSession, entry_id: int) -> Entry | None:
    row = (await session.execute(_entries_query().where(Interaction.id == entry_id))).one_or_none()
    return None if row is None else _entry(row)


def parse_note(body: object) -> tuple[str, int | None]:
    """(text, previous entry id) from ``{"text": ..., "previous_interaction_id": ...}``."""
    if not isinstance(body, dict):
        raise FormInvalid({"body": "Expected a JSON object."})
    problems = Problems()
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE:
        problems.add("text", "Write the note, at most %(limit)s characters.", limit=str(MAX_NOTE))
    previous = _previous_id(body, problems)
    problems.raise_any()
    assert isinstance(text, str)
    return text.strip(), previous


def parse_follows(body: object) -> int | None:
    """The earlier entry id of ``{"previous_interaction_id": ...}``; empty or null: none."""
    if not isinstance(body, dict):
        raise FormInvalid({"body": "Expected a JSON object."})
    problems = Problems()
    previous = _previous_id(body, problems)
    problems.raise_any()
    return previous


def _previous_id(body: dict[str, Any], problems: Problems) -> int | None:
    previous = body.get("previous_interaction_id")
    if previous in ("", None):
        return None
    if isinstance(previous, str) and previous.isdigit() and len(previous) <= 18:
        return int(previous)
    if isinstance(previous, bool) or not isinstance(previous, int) or previous < 1:
        problems.add("previous_interaction_id", _NO_SUCH_ENTRY)
        return None
    return previous


async def add_note(
    session: AsyncSession,
    contact: Contact,
    author_id: int | None,
    text: str,
    previous_interaction_id: int | None = None,
) -> Interaction:
    """A note on the client's timeline, optionally following an earlier entry of theirs."""
    if previous_interaction_id is not None:
        owner = await session.scalar(
            select(Interaction.contact_id).where(Interaction.id == previous_interaction_id)
        )
        if owner != contact.id:
            raise FormInvalid({"previous_interaction_id": _NO_SUCH_ENTRY})
    note = Interaction(
        contact_id=contact.id,
        company_id=contact.company_id,
        kind=InteractionKind.NOTE.value,
        author_id=author_id,
        summary=text,
        previous_interaction_id=previous_interaction_id,
    )
    session.add(note)
    await session.flush()
    return note


async def link_entry(
    session: AsyncSession, contact: Contact, entry_id: int, previous_id: int | None
) -> Interaction:
    """Say which earlier entry of the client's an entry follows from (None: none).

    Any entry may be linked (a task to the call it came from, a deal change to the
    meeting that led to it); only to an earlier one of the same client, so a chain
    always reads back in time and never loops.
    """
    entry = await session.scalar(
        select(Interaction)
        .where(Interaction.id == entry_id, Interaction.contact_id == contact.id)
        .with_for_update()
    )
    if entry is None:
        raise FormInvalid({"entry": _NO_SUCH_ENTRY})
    if previous_id is not None:
        previous = await session.scalar(
            select(Interaction).where(
                Interaction.id == previous_id, Interaction.contact_id == contact.id
            )
        )
        if previous is None:
            raise FormInvalid({"previous_interaction_id": _NO_SUCH_ENTRY})
        if (previous.occurred_at, previous.id) >= (entry.occurred_at, entry.id):
            raise FormInvalid({"previous_interaction_id": "Choose an earlier entry."})
    entry.previous_interaction_id = previous_id
    await session.flush()
    return entry
