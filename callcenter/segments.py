"""Segments: saved client filters, to read as a list, export, or turn into a dial list.

A filter is validated into a frozen ``SegmentFilter`` before it is stored or run, so
the JSON kept in ``segments.filters`` is always one this module understands. Every
query over a segment also carries the reader's ``visible_contacts`` clause and leaves
merged-away duplicates out.

"Last contact" is the newest interaction on the client's timeline or call with them.
"Last contact from/before" needs a contact in that range; "no contact for N days"
also finds clients nobody has ever spoken to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.access import visible_contacts
from callcenter.lookup import display_name
from callcenter.models import (
    Call,
    Campaign,
    Company,
    Contact,
    ContactPhone,
    ContactStatus,
    Deal,
    DoNotCall,
    Interaction,
    Lead,
    Segment,
    User,
)

MAX_NAME = 200
MAX_IDS = 200  # ids in one filter list
MAX_TAGS = 50
MAX_TEXT = 200
MAX_DAYS = 36_500
PAGE_SIZE = 50
MAX_PAGE = 500
# dates in a filter are calendar days in the center's zone unless the reader says otherwise
DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

TagsMatch = Literal["any", "all"]


class FilterError(ValueError):
    """A filter or a segment that cannot be stored; ``fields`` says why, per field."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


@dataclass(frozen=True)
class SegmentFilter:
    statuses: tuple[str, ...] = ()
    region: str | None = None
    time_zone: str | None = None
    ad_channel_ids: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    tags_match: TagsMatch = "any"
    manager_ids: tuple[int, ...] = ()
    last_contact_from: date | None = None  # inclusive
    last_contact_before: date | None = None  # exclusive
    no_contact_days: int | None = None
    deal_stage_ids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> SegmentFilter:
        """From stored or posted JSON; unknown keys and bad values raise FilterError."""
        if not isinstance(data, Mapping):
            raise FilterError({"filters": "expected an object"})
        known = set(cls.__dataclass_fields__)
        errors = {str(key): "unknown filter" for key in data if key not in known}
        values: dict[str, Any] = {}
        for name, reader in _READERS.items():
            raw = data.get(name)
            if raw is None or raw == "" or raw == []:
                continue
            try:
                values[name] = reader(raw)
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
        if errors:
            raise FilterError(errors)
        made = cls(**values)
        if (
            made.last_contact_from
            and made.last_contact_before
            and made.last_contact_before <= made.last_contact_from
        ):
            raise FilterError({"last_contact_before": "must be later than the start date"})
        return made

    def as_json(self) -> dict[str, Any]:
        """Only what is set, dates as ISO text: what ``segments.filters`` keeps."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value in (None, (), []) or (name == "tags_match" and not self.tags):
                continue
            if isinstance(value, date):
                value = value.isoformat()
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def is_empty(self) -> bool:
        return not self.as_json()


def _ids(raw: object) -> tuple[int, ...]:
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    ids: list[int] = []
    for item in raw:
        if isinstance(item, bool):
            raise ValueError("expected ids")
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if not isinstance(item, int) or not 0 < item < 2**63:
            raise ValueError("expected ids")
        if item not in ids:
            ids.append(item)
    if len(ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS}")
    return tuple(ids)


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("expected text")
    value = raw.strip()
    if len(value) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    return value


def _statuses(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    allowed = {s.value for s in ContactStatus}
    if not all(isinstance(s, str) and s in allowed for s in items):
        raise ValueError(f"expected some of: {', '.join(sorted(allowed))}")
    return tuple(dict.fromkeys(items))


def _time_zone(raw: object) -> str:
    value = _text(raw)
    if value not in _zones():
        raise ValueError("not a time zone (for example Europe/Moscow)")
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())  # a scan of the zone database: once


def _tags(raw: object) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)) or not all(isinstance(t, str) for t in items):
        raise ValueError("expected a list of tags")
    tags = tuple(dict.fromkeys(t.strip() for t in items if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TEXT for t in tags):
        raise ValueError(f"at most {MAX_TAGS} tags of {MAX_TEXT} characters")
    return tags


def _tags_match(raw: object) -> TagsMatch:
    if raw == "any":
        return "any"
    if raw == "all":
        return "all"
    raise ValueError("expected any or all")


def _date(raw: object) -> date:
    if not isinstance(raw, str):
        raise ValueError("expected a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("expected a date (YYYY-MM-DD)") from None
    if not 1900 <= day.year <= 2100:
        raise ValueError("a date between 1900 and 2100")
    return day


def _days(raw: object) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DAYS:
        raise ValueError(f"a whole number of days from 1 to {MAX_DAYS}")
    return raw


def _optional_text(raw: object) -> str | None:
    return _text(raw) or None


_READERS: dict[str, Any] = {
    "statuses": _statuses,
    "region": _optional_text,
    "time_zone": _time_zone,
    "ad_channel_ids": _ids,
    "tags": _tags,
    "tags_match": _tags_match,
    "manager_ids": _ids,
    "last_contact_from": _date,
    "last_contact_before": _date,
    "no_contact_days": _days,
    "deal_stage_ids": _ids,
}


def last_contact() -> ColumnElement[Any]:
    """The newest timeline entry or call of the contact in the enclosing query."""
    newest_interaction = (
        select(func.max(Interaction.occurred_at))
        .where(Interaction.contact_id == Contact.id)
        .scalar_subquery()
    )
    newest_call = (
        select(func.max(Call.started_at)).where(Call.contact_id == Contact.id).scalar_subquery()
    )
    # greatest() skips NULLs: a client with calls but no timeline still has a last contact
    return func.greatest(newest_interaction, newest_call)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def filter_clause(
    segment: SegmentFilter, zone: ZoneInfo = DEFAULT_ZONE, now: datetime | None = None
) -> ColumnElement[bool]:
    """The filter as a WHERE clause on ``Contact`` (merged-away contacts left out)."""
    clauses: list[ColumnElement[bool]] = [Contact.merged_into_id.is_(None)]
    if segment.statuses:
        clauses.append(Contact.status.in_(segment.statuses))
    if segment.region:
        clauses.append(func.lower(Contact.region) == segment.region.lower())
    if segment.time_zone:
        clauses.append(Contact.time_zone == segment.time_zone)
    if segment.ad_channel_ids:
        clauses.append(Contact.ad_channel_id.in_(segment.ad_channel_ids))
    if segment.manager_ids:
        clauses.append(Contact.manager_id.in_(segment.manager_ids))
    if segment.tags:
        wanted = list(segment.tags)  # bound as text[], the type of the column
        # && and @> are what the GIN index on tags serves
        clauses.append(
            Contact.tags.contains(wanted)
            if segment.tags_match == "all"
            else Contact.tags.overlap(wanted)
        )
    if segment.deal_stage_ids:
        clauses.append(
            exists().where(Deal.contact_id == Contact.id, Deal.stage_id.in_(segment.deal_stage_ids))
        )
    if segment.last_contact_from or segment.last_contact_before or segment.no_contact_days:
        last = last_contact()
        if segment.last_contact_from:
            clauses.append(last >= _midnight(segment.last_contact_from, zone))
        if segment.last_contact_before:
            clauses.append(last < _midnight(segment.last_contact_before, zone))
        if segment.no_contact_days:
            since = (now or datetime.now(UTC)) - timedelta(days=segment.no_contact_days)
            clauses.append(or_(last.is_(None), last < since))
    return and_(*clauses)


async def _where(
    session: AsyncSession,
    user: User,
    segment: SegmentFilter,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> ColumnElement[bool]:
    return and_(filter_clause(segment, zone, now), await visible_contacts(session, user))


async def count_clients(
    session: AsyncSession,
    user: User,
    segment: SegmentFilter,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> int:
    where = await _where(session, user, segment, zone, now)
    return await session.scalar(select(func.count()).select_from(Contact).where(where)) or 0


@dataclass(frozen=True)
class SegmentClient:
    contact_id: int
    name: str
    company: str | None
    phones: tuple[str, ...]
    status: str
    manager_name: str | None
    last_contact_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["phones"] = list(self.phones)
        out["last_contact_at"] = self.last_contact_at.isoformat() if self.last_contact_at else None
        return out


async def list_clients(
    session: AsyncSession,
    user: User,
    segment: SegmentFilter,
    *,
    after_id: int = 0,
    limit: int = PAGE_SIZE,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> list[SegmentClient]:
    """One page in id order; pass the last ``contact_id`` as ``after_id`` for the next."""
    limit = max(1, min(limit, MAX_PAGE))
    where = await _where(session, user, segment, zone, now)
    phones = (
        select(func.array_agg(aggregate_order_by(ContactPhone.e164, ContactPhone.id)))
        .where(ContactPhone.contact_id == Contact.id)
        .scalar_subquery()
    )
    query = (
        select(
            Contact.id,
            Contact.display_name,
            Contact.last_name,
            Contact.first_name,
            Contact.middle_name,
            Company.name,
            phones,
            Contact.status,
            User.full_name,
            last_contact(),
        )
        .outerjoin(Company, Company.id == Contact.company_id)
        .outerjoin(User, User.id == Contact.manager_id)
        .where(where, Contact.id > after_id)
        .order_by(Contact.id)
        .limit(limit)
    )
    return [
        SegmentClient(
            contact_id=row[0],
            name=display_name(row[1], row[2], row[3], row[4]),
            company=row[5],
            phones=tuple(row[6] or ()),
            status=row[7],
            manager_name=row[8],
            last_contact_at=row[9],
        )
        for row in await session.execute(query)
    ]


# -- saved segments -------------------------------------------------------------------


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise FilterError({"name": "give the segment a name"})
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise FilterError({"name": f"longer than {MAX_NAME} characters"})
    return name


async def _name_taken(session: AsyncSession, name: str, but: int | None = None) -> bool:
    query = select(Segment.id).where(func.lower(Segment.name) == name.lower())
    if but is not None:
        query = query.where(Segment.id != but)
    return await session.scalar(query) is not None


async def save_segment(
    session: AsyncSession,
    owner: User,
    name: object,
    segment: SegmentFilter,
    existing: Segment | None = None,
) -> Segment:
    """Create a segment, or rename and re-filter ``existing``; names are unique."""
    checked = _checked_name(name)
    if await _name_taken(session, checked, existing.id if existing else None):
        raise FilterError({"name": "a segment with this name exists"})
    if existing is None:
        existing = Segment(name=checked, filters=segment.as_json(), owner_id=owner.id)
        session.add(existing)
    else:
        existing.name = checked
        existing.filters = segment.as_json()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # the same name saved at the same moment
        raise FilterError({"name": "a segment with this name exists"}) from None
    return existing


async def delete_segment(session: AsyncSession, segment: Segment) -> None:
    await session.delete(segment)
    await session.flush()


async def all_segments(session: AsyncSession) -> Sequence[Segment]:
    return (await session.scalars(select(Segment).order_by(func.lower(Segment.name)))).all()


def stored_filter(segment: Segment) -> SegmentFilter:
    return SegmentFilter.from_json(segment.filters)


# -- dial lists -----------------------------------------------------------------------


@dataclass(frozen=True)
class DialListResult:
    added: int  # new leads
    already_in: int  # clients already in the campaign (by client or by number)
    do_not_call: int  # every number of the client is on the do-not-call list
    no_phone: int

    def as_json(self) -> dict[str, int]:
        return asdict(self)


async def add_to_campaign(
    session: AsyncSession,
    user: User,
    segment: SegmentFilter,
    campaign: Campaign,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> DialListResult:
    """Add the segment's clients as leads: one per client, its first number not on the
    do-not-call list; clients already in the campaign are left as they are."""
    where = await _where(session, user, segment, zone)
    clients = select(Contact.id, Contact.time_zone).where(where).cte("clients")
    # in the campaign as this client, or under any of the client's numbers (an alias:
    # the plain table would correlate with the one phone picked below)
    numbers = aliased(ContactPhone)
    in_campaign = or_(
        exists().where(Lead.campaign_id == campaign.id, Lead.contact_id == clients.c.id),
        exists().where(
            Lead.campaign_id == campaign.id,
            Lead.phone_e164 == numbers.e164,
            numbers.contact_id == clients.c.id,
        ),
    )
    has_phone = exists().where(ContactPhone.contact_id == clients.c.id)
    callable_phone = (
        select(ContactPhone.id)
        .where(
            ContactPhone.contact_id == clients.c.id,
            ~exists().where(DoNotCall.e164 == ContactPhone.e164),
        )
        .exists()
    )
    counts = (
        await session.execute(
            select(
                func.count().filter(in_campaign),
                func.count().filter(~in_campaign, ~has_phone),
                func.count().filter(~in_campaign, has_phone, ~callable_phone),
            ).select_from(clients)
        )
    ).one()
    first_callable = (
        select(
            ContactPhone.contact_id,
            ContactPhone.raw,
            ContactPhone.e164,
            clients.c.time_zone,
        )
        .join(clients, clients.c.id == ContactPhone.contact_id)
        .where(~exists().where(DoNotCall.e164 == ContactPhone.e164), ~in_campaign)
        .ext(distinct_on(ContactPhone.contact_id))
        .order_by(ContactPhone.contact_id, ContactPhone.id)
        .subquery("first_callable")
    )
    added = await session.execute(
        insert(Lead)
        .from_select(
            ["campaign_id", "contact_id", "phone_raw", "phone_e164", "time_zone"],
            select(
                literal(campaign.id),
                first_callable.c.contact_id,
                first_callable.c.raw,
                first_callable.c.e164,
                first_callable.c.time_zone,
            ),
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "phone_e164"])
    )
    return DialListResult(
        added=cast(CursorResult[Any], added).rowcount,
        already_in=counts[0],
        no_phone=counts[1],
        do_not_call=counts[2],
    )
