"""Campaigns as a manager sets them up: settings, operators, dial lists, live progress.

Settings arrive as one JSON-shaped mapping (the API's body, or the web form turned into
it) and are checked as a whole, so every wrong field is named at once and nothing is
stored until all are right. The calling windows and retry delays follow the dialer's
own rules; ``callcenter`` may not import the dialer, so those two checks come in as
``CampaignRules`` (``dialer.desk`` implements it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.form_errors import FormInvalid, Problems
from callcenter.models import (
    AbandonWindow,
    AttemptOutcome,
    Call,
    CallAttempt,
    Campaign,
    CampaignOperator,
    ContactImport,
    ContactPhone,
    DialMode,
    Disposition,
    DoNotCall,
    ImportStatus,
    Lead,
    LeadStatus,
    Role,
    User,
)
from callcenter.models.clients import Contact

MAX_NAME = 200
MAX_SCRIPT = 20_000
MAX_ATTEMPTS = 20
MAX_LINES = 1000
# Asterisk presents it as the calling number; it goes into an AMI header
CALLER_ID = re.compile(r"^\+?[0-9]{3,20}$")
# PostgreSQL text refuses NUL; the rest has no business in a name or a script
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
ABANDON_PERCENT = (Decimal("0.5"), Decimal("10"))
LINES_PER_OPERATOR = (Decimal("1"), Decimal("10"))
ABANDON_WINDOW_SPAN = {
    AbandonWindow.DAY: timedelta(days=1),
    AbandonWindow.MONTH: timedelta(days=30),
}
# the client picked up: talked to an operator, or found none free (abandoned)
PICKED_UP = (AttemptOutcome.ANSWERED, AttemptOutcome.ABANDONED)
# statuses of leads still to be worked
LEADS_LEFT = (LeadStatus.NEW, LeadStatus.CALLBACK, LeadStatus.IN_PROGRESS)


class CampaignRules(Protocol):
    """The dialer's checks of two settings; each raises FormInvalid naming the bad entry."""

    def check_windows(self, raw: Any) -> None: ...

    def check_retry_delays(self, raw: Any) -> dict[str, int]: ...


@dataclass(frozen=True)
class CampaignForm:
    name: str
    mode: DialMode
    caller_id: str | None
    script: str | None
    disposition_codes: tuple[str, ...]
    max_attempts: int
    retry_delays: dict[str, int]
    calling_windows: dict[str, Any]
    target_abandon_rate: Decimal  # a fraction: 3% is 0.03
    abandon_window: AbandonWindow
    lines_per_operator: Decimal
    max_lines: int | None
    amd_enabled: bool
    is_advertising: bool
    operator_ids: tuple[int, ...]


def _whole(raw: Any, low: int, high: int) -> int | None:
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip()) if len(raw.strip()) < 10 else None
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        return None
    return raw


def _decimal(raw: Any, low: Decimal, high: Decimal) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() and low <= value <= high else None


def _flag(raw: Any) -> bool:
    return raw is True or str(raw) in ("on", "true", "1", "yes")


async def read_form(
    session: AsyncSession, raw: Mapping[str, Any], rules: CampaignRules
) -> CampaignForm:
    """The settings in ``raw`` checked as a whole; FormInvalid names every wrong field."""
    problems = Problems()
    name = " ".join(str(raw.get("name") or "").split())
    if not name:
        problems.add("name", "Enter a name.")
    elif len(name) > MAX_NAME:
        problems.add("name", "At most 200 characters.")
    elif CONTROL_CHARACTERS.search(name):
        problems.add("name", "No control characters, please.")

    mode = raw.get("mode", DialMode.PREVIEW.value)
    if mode not in {m.value for m in DialMode}:
        problems.add("mode", "Choose a dialling mode.")
        mode = DialMode.PREVIEW.value

    caller_id = str(raw.get("caller_id") or "").strip() or None
    if caller_id is not None and not CALLER_ID.match(caller_id):
        problems.add("caller_id", "Digits only, optionally with a leading +.")

    script = raw.get("script")
    if script is not None and not isinstance(script, str):
        problems.add("script", "Expected text.")
        script = None
    script = (script or "").replace("\r\n", "\n").strip() or None
    if script is not None and len(script) > MAX_SCRIPT:
        problems.add("script", "At most 20000 characters.")
    elif script is not None and CONTROL_CHARACTERS.search(script):
        problems.add("script", "No control characters, please.")

    codes = raw.get("disposition_codes") or []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        problems.add("disposition_codes", "Expected a list of call result codes.")
        codes = []
    known = set(
        await session.scalars(select(Disposition.code).where(Disposition.is_active.is_(True)))
    )
    unknown = sorted(set(codes) - known)
    if unknown:
        problems.add(
            "disposition_codes", "No such call result: %(code)s.", code=", ".join(unknown)[:200]
        )

    max_attempts = _whole(raw.get("max_attempts", 3), 1, MAX_ATTEMPTS)
    if max_attempts is None:
        problems.add("max_attempts", "A whole number from 1 to 20.")

    retry_delays: dict[str, int] = {}
    try:
        retry_delays = rules.check_retry_delays(raw.get("retry_delays") or {})
    except FormInvalid as exc:
        problems.found.update(exc.problems)

    windows = raw.get("calling_windows") or {}
    try:
        rules.check_windows(windows)
    except FormInvalid as exc:
        problems.found.update(exc.problems)

    rate = _decimal(raw.get("target_abandon_percent", 3), *ABANDON_PERCENT)
    if rate is None:
        problems.add("target_abandon_percent", "A percentage from 0.5 to 10.")

    window = raw.get("abandon_window", AbandonWindow.DAY.value)
    if window not in {w.value for w in AbandonWindow}:
        problems.add("abandon_window", "Choose 24 hours or 30 days.")
        window = AbandonWindow.DAY.value

    lines_per_operator = _decimal(raw.get("lines_per_operator", 1), *LINES_PER_OPERATOR)
    if lines_per_operator is None:
        problems.add("lines_per_operator", "A number from 1 to 10.")

    max_lines: int | None = None
    if raw.get("max_lines") not in (None, ""):
        max_lines = _whole(raw.get("max_lines"), 1, MAX_LINES)
        if max_lines is None:
            problems.add("max_lines", "A whole number from 1 to 1000, or empty for no limit.")

    operator_ids = await _operators(session, raw.get("operator_ids") or [], problems)
    problems.raise_any()
    assert max_attempts is not None and rate is not None and lines_per_operator is not None
    return CampaignForm(
        name=name,
        mode=DialMode(mode),
        caller_id=caller_id,
        script=script,
        disposition_codes=tuple(dict.fromkeys(codes)),
        max_attempts=max_attempts,
        retry_delays=retry_delays,
        calling_windows=dict(windows),
        target_abandon_rate=(rate / 100).quantize(Decimal("0.0001")),
        abandon_window=AbandonWindow(window),
        lines_per_operator=lines_per_operator.quantize(Decimal("0.01")),
        max_lines=max_lines,
        amd_enabled=_flag(raw.get("amd_enabled", False)),
        is_advertising=_flag(raw.get("is_advertising", True)),
        operator_ids=operator_ids,
    )


async def _operators(session: AsyncSession, raw: Any, problems: Problems) -> tuple[int, ...]:
    ids = raw if isinstance(raw, list) else None
    if ids is not None:
        ids = [_whole(i, 1, 2**62) for i in ids]
    if ids is None or None in ids:
        problems.add("operator_ids", "Expected a list of operator ids.")
        return ()
    wanted = {i for i in ids if i is not None}
    found = set(
        await session.scalars(
            select(User.id).where(
                User.id.in_(wanted), User.is_active.is_(True), User.role == Role.OPERATOR
            )
        )
    )
    if wanted - found:
        problems.add("operator_ids", "Only active operators can work a campaign.")
    return tuple(sorted(found))


def _apply(campaign: Campaign, form: CampaignForm) -> None:
    campaign.name = form.name
    campaign.mode = form.mode.value
    campaign.caller_id = form.caller_id
    campaign.script = form.script
    campaign.disposition_codes = list(form.disposition_codes)
    campaign.max_attempts = form.max_attempts
    campaign.retry_delays = form.retry_delays
    campaign.calling_windows = form.calling_windows
    campaign.target_abandon_rate = form.target_abandon_rate
    campaign.abandon_window = form.abandon_window.value
    campaign.lines_per_operator = form.lines_per_operator
    campaign.max_lines = form.max_lines
    campaign.amd_enabled = form.amd_enabled
    campaign.is_advertising = form.is_advertising


async def create_campaign(session: AsyncSession, form: CampaignForm, user: User) -> Campaign:
    """A new campaign, as a draft: starting it is the dialer's business."""
    campaign = Campaign(created_by_id=user.id)
    _apply(campaign, form)
    session.add(campaign)
    await session.flush()
    await _set_operators(session, campaign.id, form.operator_ids)
    await audit.record(session, user, "campaign.create", "campaign", campaign.id)
    return campaign


async def update_campaign(
    session: AsyncSession, campaign: Campaign, form: CampaignForm, user: User
) -> None:
    """New settings; the status is left alone (only the dialer's controls change it)."""
    _apply(campaign, form)
    await session.flush()
    await _set_operators(session, campaign.id, form.operator_ids)
    await audit.record(session, user, "campaign.update", "campaign", campaign.id)


async def _set_operators(session: AsyncSession, campaign_id: int, ids: Sequence[int]) -> None:
    await session.execute(
        delete(CampaignOperator).where(
            CampaignOperator.campaign_id == campaign_id, CampaignOperator.user_id.not_in(ids)
        )
    )
    if ids:
        await session.execute(
            pg_insert(CampaignOperator)
            .values([{"campaign_id": campaign_id, "user_id": i} for i in ids])
            .on_conflict_do_nothing()
        )


async def operator_ids(session: AsyncSession, campaign_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(CampaignOperator.user_id)
            .where(CampaignOperator.campaign_id == campaign_id)
            .order_by(CampaignOperator.user_id)
        )
    )


async def campaign_settings(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    """The campaign in the shape ``read_form`` reads (and the API answers)."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "mode": campaign.mode,
        "caller_id": campaign.caller_id or "",
        "script": campaign.script or "",
        "disposition_codes": list(campaign.disposition_codes),
        "max_attempts": campaign.max_attempts,
        "retry_delays": dict(campaign.retry_delays),
        "calling_windows": dict(campaign.calling_windows),
        "target_abandon_percent": float(campaign.target_abandon_rate * 100),
        "abandon_window": campaign.abandon_window,
        "lines_per_operator": float(campaign.lines_per_operator),
        "max_lines": campaign.max_lines,
        "amd_enabled": campaign.amd_enabled,
        "is_advertising": campaign.is_advertising,
        "operator_ids": await operator_ids(session, campaign.id),
    }


async def allowed_dispositions(session: AsyncSession, campaign: Campaign) -> list[Disposition]:
    """The results an operator may pick after this campaign's call, in the admin's order."""
    query = select(Disposition).where(Disposition.is_active.is_(True))
    if campaign.disposition_codes:
        query = query.where(Disposition.code.in_(campaign.disposition_codes))
    return list(await session.scalars(query.order_by(Disposition.position, Disposition.id)))


async def is_assigned(session: AsyncSession, campaign_id: int, user_id: int) -> bool:
    found = await session.get(CampaignOperator, (campaign_id, user_id))
    return found is not None


# -- dial lists from an import ---------------------------------------------------------


@dataclass(frozen=True)
class ImportListResult:
    added: int
    already_in: int
    do_not_call: int
    no_phone: int

    def as_json(self) -> dict[str, int]:
        return {
            "added": self.added,
            "already_in": self.already_in,
            "do_not_call": self.do_not_call,
            "no_phone": self.no_phone,
        }


async def finished_imports(session: AsyncSession) -> list[ContactImport]:
    return list(
        await session.scalars(
            select(ContactImport)
            .where(ContactImport.status == ImportStatus.DONE, ContactImport.created > 0)
            .order_by(ContactImport.id.desc())
            .limit(50)
        )
    )


async def add_import_to_campaign(
    session: AsyncSession, user: User, import_id: int, campaign: Campaign
) -> ImportListResult:
    """The clients a finished CSV import created, as leads: one per client, its first
    number not on the do-not-call list; numbers already in the campaign are skipped."""
    finished = await session.scalar(
        select(ContactImport.id).where(
            ContactImport.id == import_id, ContactImport.status == ImportStatus.DONE
        )
    )
    if finished is None:
        raise FormInvalid({"import_id": "Choose a finished import."})
    clients = select(Contact.id).where(
        Contact.import_id == import_id, Contact.merged_into_id.is_(None)
    )
    total = await session.scalar(select(func.count()).select_from(clients.subquery())) or 0
    with_phone = await session.scalar(
        select(func.count(func.distinct(ContactPhone.contact_id))).where(
            ContactPhone.contact_id.in_(clients)
        )
    )
    no_phone = total - (with_phone or 0)
    callable_phones = (
        select(
            ContactPhone.contact_id,
            ContactPhone.raw,
            ContactPhone.e164,
            Contact.time_zone,
        )
        .join(Contact, Contact.id == ContactPhone.contact_id)
        .where(
            ContactPhone.contact_id.in_(clients),
            ContactPhone.e164.not_in(select(DoNotCall.e164)),
        )
        .ext(distinct_on(ContactPhone.contact_id))
        .order_by(ContactPhone.contact_id, ContactPhone.id)
        .subquery()
    )
    callable_count = await session.scalar(select(func.count()).select_from(callable_phones)) or 0
    added = await session.execute(
        pg_insert(Lead)
        .from_select(
            ["campaign_id", "contact_id", "phone_raw", "phone_e164", "time_zone"],
            select(
                literal(campaign.id),
                callable_phones.c.contact_id,
                callable_phones.c.raw,
                callable_phones.c.e164,
                callable_phones.c.time_zone,
            ),
        )
        .on_conflict_do_nothing(index_elements=[Lead.campaign_id, Lead.phone_e164])
        .returning(Lead.id)
    )
    added_count = len(added.all())
    result = ImportListResult(
        added=added_count,
        already_in=callable_count - added_count,
        do_not_call=total - no_phone - callable_count,
        no_phone=no_phone,
    )
    await audit.record(
        session, user, "campaign.dial_list", "campaign", campaign.id, import_id=import_id
    )
    return result


# -- progress --------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    dialled: int
    answered: int  # the client picked up, abandoned calls included
    abandoned: int
    ringing: int  # attempts whose outcome is not known yet
    talking: int
    abandon_percent: float  # of the answered calls in the campaign's rolling window
    leads: dict[str, int]

    @property
    def leads_left(self) -> int:
        return sum(self.leads.get(status, 0) for status in LEADS_LEFT)

    def as_json(self) -> dict[str, Any]:
        return {
            "dialled": self.dialled,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "ringing": self.ringing,
            "talking": self.talking,
            "abandon_percent": self.abandon_percent,
            "leads": self.leads,
            "leads_left": self.leads_left,
            "leads_total": sum(self.leads.values()),
        }


async def progress(session: AsyncSession, campaign: Campaign, now: datetime) -> Progress:
    """Live figures for the manager's page: one query over attempts and calls, one over leads."""
    since = now - ABANDON_WINDOW_SPAN[AbandonWindow(campaign.abandon_window)]
    outcome = CallAttempt.outcome
    in_window = CallAttempt.originated_at >= since
    talking = (
        select(func.count())
        .where(
            Call.campaign_id == campaign.id,
            Call.answered_at.is_not(None),
            Call.ended_at.is_(None),
        )
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(outcome.in_(PICKED_UP)),
                func.count().filter(outcome == AttemptOutcome.ABANDONED),
                func.count().filter(outcome == AttemptOutcome.PENDING),
                func.count().filter(in_window, outcome.in_(PICKED_UP)),
                func.count().filter(in_window, outcome == AttemptOutcome.ABANDONED),
                talking,
            ).where(CallAttempt.campaign_id == campaign.id)
        )
    ).one()
    dialled, answered, abandoned, ringing, answered_recent, abandoned_recent, talk = row
    reached = answered_recent
    leads = dict(
        (
            await session.execute(
                select(Lead.status, func.count())
                .where(Lead.campaign_id == campaign.id)
                .group_by(Lead.status)
            )
        ).all()
    )
    return Progress(
        dialled=dialled,
        answered=answered,
        abandoned=abandoned,
        ringing=ringing,
        talking=talk or 0,
        abandon_percent=round(100 * abandoned_recent / reached, 1) if reached else 0.0,
        leads={str(k): int(v) for k, v in leads.items()},
    )
