"""The call journal: finding logged calls, for the API and for people who review calls.

An operator reads the calls they answered; supervisors, managers and admins read all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.form_errors import Problems
from callcenter.iso_time import iso
from callcenter.lookup import contact_name
from callcenter.models import Call, CallDirection, CallResult, Contact, Disposition, Role, User
from callcenter.phones import to_e164

MAX_PAGE = 200


@dataclass(frozen=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    e164: str | None = None
    contact_id: int | None = None
    operator_id: int | None = None
    direction: str | None = None
    result: str | None = None
    before_id: int | None = None  # keyset paging: calls older than this one
    limit: int = 50


def parse_call_filter(query: Mapping[str, str], region: str) -> CallFilter:
    """Query-string values -> a filter; every wrong value is named at once."""
    problems = Problems()

    def moment(name: str) -> datetime | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            problems.add(name, "expected an ISO date and time, e.g. 2026-11-23T09:00:00+03:00")
            return None
        if parsed.tzinfo is None:
            problems.add(name, "give a time zone offset, e.g. +03:00")
            return None
        return parsed

    def number(name: str, low: int = 1, high: int = 2**62) -> int | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not low <= int(raw) <= high:
            problems.add(name, f"expected a whole number from {low} to {high}")
            return None
        return int(raw)

    def one_of(name: str, allowed: list[str]) -> str | None:
        raw = query.get(name, "").strip()
        if raw and raw not in allowed:
            problems.add(name, "expected one of " + ", ".join(allowed))
            return None
        return raw or None

    e164 = None
    if query.get("number", "").strip():
        e164 = to_e164(query["number"], region)
        if e164 is None:
            problems.add("number", "not a phone number")
    found = CallFilter(
        since=moment("since"),
        until=moment("until"),
        e164=e164,
        contact_id=number("contact_id"),
        operator_id=number("operator_id"),
        direction=one_of("direction", [d.value for d in CallDirection]),
        result=one_of("result", [r.value for r in CallResult]),
        before_id=number("before_id"),
        limit=number("limit", 1, MAX_PAGE) or 50,
    )
    problems.raise_any()
    return found


def _visible_to(viewer: User) -> ColumnElement[bool]:
    if viewer.role == Role.OPERATOR:
        return Call.answered_by_id == viewer.id
    return true()


async def find_calls(
    session: AsyncSession, viewer: User, found: CallFilter
) -> list[dict[str, Any]]:
    statement = _joined().where(_visible_to(viewer))
    if found.since is not None:
        statement = statement.where(Call.started_at >= found.since)
    if found.until is not None:
        statement = statement.where(Call.started_at < found.until)
    if found.e164 is not None:
        statement = statement.where(Call.caller_e164 == found.e164)
    if found.contact_id is not None:
        statement = statement.where(Call.contact_id == found.contact_id)
    if found.operator_id is not None:
        statement = statement.where(Call.answered_by_id == found.operator_id)
    if found.direction is not None:
        statement = statement.where(Call.direction == found.direction)
    if found.result is not None:
        statement = statement.where(Call.result == found.result)
    if found.before_id is not None:
        statement = statement.where(Call.id < found.before_id)
    rows = await session.execute(statement.order_by(Call.id.desc()).limit(found.limit))
    return [call_json(call, contact, disposition) for call, contact, disposition in rows]


async def call_by_id(session: AsyncSession, viewer: User, call_id: int) -> dict[str, Any] | None:
    statement = _joined().where(_visible_to(viewer), Call.id == call_id)
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    call, contact, disposition = row
    return call_json(call, contact, disposition)


def _joined() -> Select[Call, Contact, str]:
    return (
        select(Call, Contact, Disposition.code)
        .outerjoin(Contact, Contact.id == Call.contact_id)
        .outerjoin(Disposition, Disposition.id == Call.disposition_id)
    )


def call_json(call: Call, contact: Contact | None, disposition: str | None) -> dict[str, Any]:
    return {
        "id": call.id,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "caller_number": call.caller_number,
        "caller_e164": call.caller_e164,
        "caller_name": call.caller_name,
        "did": call.did,
        "queue": call.queue_name,
        "contact": None if contact is None else {"id": contact.id, "name": contact_name(contact)},
        "answered_by_id": call.answered_by_id,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "result": call.result,
        "disposition": disposition,
        "note": call.note,
        "campaign_id": call.campaign_id,
        "recording_url": f"/calls/{call.id}/recording" if call.recording_path else None,
    }
