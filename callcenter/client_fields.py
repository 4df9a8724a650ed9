"""What a client form or the API sends, checked and normalised before anything is stored.

Phones become E.164, e-mails lower case, custom fields the type an admin gave them
(text, number, date, bool, choice). Every wrong field is named, all at once, in an
interface message id (``callcenter.form_errors``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from callcenter.form_errors import Problems
from callcenter.models import ContactStatus, CustomFieldDefinition, CustomFieldType
from callcenter.phones import to_e164
from callcenter.time_zones import is_time_zone

MAX_NAME = 200  # "At most 200 characters." says so
MAX_TEXT = 2000
MAX_TAG = 50
MAX_TAGS = 30
MAX_PHONES = 20
NAME_FIELDS = ("first_name", "last_name", "middle_name", "display_name")
TEXT_FIELDS = (*NAME_FIELDS, "position")
_REFERENCES = ("manager_id", "refusal_reason_id", "ad_channel_id", "company_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIST_SEPARATORS = re.compile(r"[\n,;]+")
_TRUE = {"true", "1", "on", "yes", "да"}
_FALSE = {"false", "0", "off", "no", "нет"}


class _Wrong(ValueError):
    """One value's problem, as an interface message id with its parameters."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    @property
    def text(self) -> str:
        """The message with its parameters filled in (English; for a per-row report)."""
        return self.message % self.params if self.params else self.message


WrongValue = _Wrong  # what custom_value raises, for those who read values elsewhere (CSV)


def parse_client(
    body: object, region: str, definitions: Sequence[CustomFieldDefinition]
) -> dict[str, Any]:
    """The fields present in ``body``, checked and normalised; absent fields stay absent.

    Lists (phones, e-mails, tags) may be JSON lists or text with one item per line or
    comma. An empty value clears a field. ``FormInvalid`` names every wrong field.
    """
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "Expected a JSON object.")
        problems.raise_any()
    assert isinstance(body, dict)
    changes: dict[str, Any] = {}
    readers: dict[str, Any] = {
        **dict.fromkeys(TEXT_FIELDS, _short_text),
        **dict.fromkeys(_REFERENCES, _optional_id),
        "company": _short_text,
        "phones": lambda value: _phones(value, region),
        "emails": _emails,
        "birthday": _birthday,
        "status": _status,
        "tags": _tags,
        "region": _short_text,
        "time_zone": _time_zone,
    }
    for key, value in body.items():
        if key == "custom_fields":
            changes[key] = parse_custom_fields(value, definitions, problems)
        elif key not in readers:
            problems.add(str(key), "Unknown field.")
        else:
            try:
                changes[key] = readers[key](value)
            except _Wrong as wrong:
                problems.add(key, wrong.message, **wrong.params)
    problems.raise_any()
    return changes


def _short_text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and len(value) <= MAX_NAME):
        return " ".join((value or "").split()) or None
    raise _Wrong("At most 200 characters.")


def _time_zone(value: Any) -> str | None:
    """An IANA zone (``Asia/Vladivostok``); empty clears it."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_time_zone(value.strip()):
        return value.strip()
    raise _Wrong("Choose a time zone.")


def _optional_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _Wrong("Must be an id.")


def _status(value: Any) -> str:
    if value in {s.value for s in ContactStatus}:
        return str(value)
    raise _Wrong("Must be one of: %(choices)s.", choices=", ".join(s.value for s in ContactStatus))


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in _LIST_SEPARATORS.split(value) if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise _Wrong("Must be a list of text values.")


def _phones(value: Any, region: str) -> list[tuple[str, str]]:
    """[(as typed, E.164)], each number once."""
    phones: dict[str, str] = {}
    for raw in _items(value):
        e164 = to_e164(raw, region)
        if e164 is None:
            raise _Wrong("%(value)s is not a phone number.", value=raw[:40])
        phones.setdefault(e164, raw[:100])
    if len(phones) > MAX_PHONES:
        raise _Wrong("At most %(limit)s entries.", limit=str(MAX_PHONES))
    return [(raw, e164) for e164, raw in phones.items()]


def _emails(value: Any) -> list[str]:
    emails: list[str] = []
    for raw in _items(value):
        email = raw.lower()
        if len(email) > 254 or not _EMAIL.match(email):
            raise _Wrong("%(value)s is not an e-mail address.", value=raw[:60])
        if email not in emails:
            emails.append(email)
    if len(emails) > MAX_PHONES:
        raise _Wrong("At most %(limit)s entries.", limit=str(MAX_PHONES))
    return emails


def _date(value: Any) -> date | None:
    """ISO (as date inputs send) or the Russian dd.mm.yyyy; empty is None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                return datetime.strptime(value.strip(), pattern).date()
            except ValueError:
                continue
    raise _Wrong("A date like 2025-03-31.")


def _birthday(value: Any) -> date | None:
    birthday = _date(value)
    if birthday is not None and not date(1900, 1, 1) <= birthday <= date.today():
        raise _Wrong("Must be a date between 1900 and today.")
    return birthday


def _tags(value: Any) -> list[str]:
    tags: list[str] = []
    for tag in _items(value):
        if len(tag) > MAX_TAG:
            raise _Wrong("A tag is at most %(limit)s characters.", limit=str(MAX_TAG))
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise _Wrong("At most %(limit)s entries.", limit=str(MAX_TAGS))
    return tags


def parse_custom_fields(
    value: Any, definitions: Sequence[CustomFieldDefinition], problems: Problems
) -> dict[str, Any]:
    """{key: typed value, or None to clear}; problems go under ``custom_fields.KEY``."""
    if not isinstance(value, dict):
        problems.add("custom_fields", "Expected an object of field values.")
        return {}
    by_key = {d.key: d for d in definitions}
    typed: dict[str, Any] = {}
    for key, raw in value.items():
        definition = by_key.get(key)
        if definition is None:
            problems.add(f"custom_fields.{key}", "Unknown field.")
            continue
        try:
            typed[key] = custom_value(definition, raw)
        except _Wrong as wrong:
            problems.add(f"custom_fields.{key}", wrong.message, **wrong.params)
    return typed


def custom_value(definition: CustomFieldDefinition, raw: Any) -> Any:
    """A custom field's value as stored in JSON (a date as ISO text); None clears it."""
    kind = definition.value_type
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return False if kind == CustomFieldType.BOOL else None
    if kind == CustomFieldType.TEXT:
        if not isinstance(raw, str) or len(raw) > MAX_TEXT:
            raise _Wrong("Must be text of at most %(limit)s characters.", limit=str(MAX_TEXT))
        return raw.strip()
    if kind == CustomFieldType.NUMBER:
        return _number(raw)
    if kind == CustomFieldType.DATE:
        day = _date(raw)
        assert day is not None
        return day.isoformat()
    if kind == CustomFieldType.BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise _Wrong("Must be yes or no.")
    allowed = [str(c) for c in definition.choices or ()]
    if not isinstance(raw, str) or raw not in allowed:
        raise _Wrong("Must be one of: %(choices)s.", choices=", ".join(allowed))
    return raw


def _number(raw: Any) -> int | float:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return raw
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            number = Decimal(raw.strip().replace(" ", "").replace(",", "."))
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return int(number) if number == number.to_integral_value() else float(number)
    raise _Wrong("Must be a number.")
