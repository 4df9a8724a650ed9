"""Turning a spreadsheet row into a contact: column mapping, validation, normalisation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from callcenter.client_fields import WrongValue, custom_value
from callcenter.models import ContactStatus, CustomFieldDefinition
from callcenter.phones import to_e164
from callcenter.russian_phones import quick_e164

NAME_FIELDS = ("last_name", "first_name", "middle_name", "full_name")
FIELDS = (
    *NAME_FIELDS,
    "company",
    "position",
    "phone",
    "email",
    "status",
    "tags",
    "birthday",
)
CUSTOM_PREFIX = "custom:"
MAX_TEXT = 200  # names, company, position, tags, e-mail
_NUMBERED = re.compile(r"(phone|email)\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CUSTOM_KEY = re.compile(r"[\w.-]{1,64}")

STATUSES = {
    "": ContactStatus.LEAD,
    "lead": ContactStatus.LEAD,
    "лид": ContactStatus.LEAD,
    "потенциальный": ContactStatus.LEAD,
    "client": ContactStatus.CLIENT,
    "клиент": ContactStatus.CLIENT,
}

# lower-cased header words -> field, for proposing a mapping
_HEADER_WORDS = {
    "phone": ("телефон", "тел", "тел.", "phone", "mobile", "мобильный", "номер", "tel", "cell"),
    "email": ("e-mail", "email", "почта", "эл. почта", "электронная почта", "mail"),
    "full_name": ("фио", "ф.и.о.", "name", "full name", "клиент", "контакт", "имя полностью"),
    "last_name": ("фамилия", "last name", "surname", "last_name"),
    "first_name": ("имя", "first name", "first_name"),
    "middle_name": ("отчество", "middle name", "middle_name", "patronymic"),
    "company": ("компания", "организация", "company", "фирма", "organization", "организация"),
    "position": ("должность", "position", "title", "job title"),
    "status": ("статус", "status"),
    "tags": ("теги", "метки", "tags", "labels"),
    "birthday": ("день рождения", "дата рождения", "birthday", "birth date", "др"),
}


def field_kind(name: str) -> str:
    """``phone2`` -> ``phone``; ``custom:inn`` -> ``custom``; an unknown field raises."""
    if name.startswith(CUSTOM_PREFIX):
        if not _CUSTOM_KEY.fullmatch(name.removeprefix(CUSTOM_PREFIX)):
            raise ValueError(f"bad custom field key in {name!r}")
        return "custom"
    if match := _NUMBERED.fullmatch(name):
        return match.group(1)
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}")
    return name


def propose_mapping(header: Sequence[str]) -> dict[str, str]:
    """A first guess for the user to correct: ``{"Телефон": "phone", "ФИО": "full_name"}``."""
    proposal: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        key = " ".join(column.lower().replace("_", " ").split())
        for name, words in _HEADER_WORDS.items():
            base = key.rstrip("0123456789 ").strip()
            if key in words or base in words or any(key.startswith(w + " ") for w in words):
                if name in ("phone", "email"):
                    proposal[column] = name
                elif name not in used and column not in proposal:
                    proposal[column] = name
                    used.add(name)
                break
    return proposal


@dataclass(frozen=True)
class RowError:
    column: str  # the file's header, or "" for the row as a whole
    message: str


@dataclass
class ContactRow:
    """A valid row, ready to be staged."""

    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    display_name: str | None = None
    company: str | None = None
    position: str | None = None
    status: str = ContactStatus.LEAD.value
    tags: list[str] = field(default_factory=list)
    birthday: date | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)  # typed as defined
    phones: list[tuple[str, str]] = field(default_factory=list)  # (raw, e164)
    emails: list[str] = field(default_factory=list)
    region: str | None = None  # of the first phone: callcenter.import_places fills them
    time_zone: str | None = None


class RowParser:
    """Applies a mapping ``{file column -> field}`` to rows of a file with this header."""

    def __init__(
        self,
        header: Sequence[str],
        mapping: Mapping[str, str],
        region: str,
        custom_fields: Sequence[CustomFieldDefinition] = (),
    ) -> None:
        """``custom_fields``: the contacts' active fields; a column mapped to any other
        ``custom:KEY`` is refused, so a typo never stores values nobody can see."""
        missing = sorted(set(mapping) - set(header))
        if missing:
            raise ValueError(f"no such columns in the file: {', '.join(missing)}")
        kinds = {column: field_kind(name) for column, name in mapping.items()}
        self._custom = {definition.key: definition for definition in custom_fields}
        unknown = sorted(
            name.removeprefix(CUSTOM_PREFIX)
            for name, kind in zip(mapping.values(), kinds.values(), strict=True)
            if kind == "custom" and name.removeprefix(CUSTOM_PREFIX) not in self._custom
        )
        if unknown:
            raise ValueError(f"no such custom fields: {', '.join(unknown)}")
        if "phone" not in kinds.values():
            raise ValueError("map at least one column to a phone")
        if not set(kinds.values()) & {*NAME_FIELDS, "company"}:
            raise ValueError("map a name (or a company) column")
        self.region = region
        self._russian = region.upper() == "RU"
        # by position: a header may repeat ("Телефон", "Телефон")
        self._columns = [
            (i, column, mapping[column], kinds[column])
            for i, column in enumerate(header)
            if column in mapping
        ]

    def parse(self, cells: Sequence[str], max_cell: int) -> ContactRow | list[RowError]:
        row = ContactRow()
        errors: list[RowError] = []
        for i, column, name, kind in self._columns:
            value = cells[i].strip() if i < len(cells) else ""
            if len(value) > max_cell:
                errors.append(RowError(column, f"longer than {max_cell} characters"))
                continue
            if not value:
                continue
            problem = self._apply(row, name, kind, value)
            if problem:
                errors.append(RowError(column, problem))
        if not errors:
            if not (row.first_name or row.last_name or row.middle_name or row.display_name):
                if not row.company:
                    errors.append(RowError("", "no name"))
                row.display_name = row.company  # a company's switchboard, say
            if not row.phones:
                errors.append(RowError("", "no phone"))
        return errors or row

    def _apply(self, row: ContactRow, name: str, kind: str, value: str) -> str | None:
        if kind == "phone":
            e164 = (quick_e164(value) if self._russian else None) or to_e164(value, self.region)
            if e164 is None:
                return "not a phone number"
            if e164 not in (known for _, known in row.phones):
                row.phones.append((value, e164))
            return None
        if kind == "custom":
            key = name.removeprefix(CUSTOM_PREFIX)
            try:
                row.custom_fields[key] = custom_value(self._custom[key], value)
            except WrongValue as wrong:
                return wrong.text
            return None
        if kind == "birthday":
            birthday = parse_date(value)
            if birthday is None:
                return "not a date (дд.мм.гггг or гггг-мм-дд)"
            row.birthday = birthday
            return None
        if kind == "status":
            status = STATUSES.get(value.lower())
            if status is None:
                return "unknown status (lead/лид or client/клиент)"
            row.status = status.value
            return None
        if kind == "tags":
            tags = [tag.strip() for tag in value.split(",") if tag.strip()]
            if any(len(tag) > MAX_TEXT for tag in tags):
                return f"a tag longer than {MAX_TEXT} characters"
            row.tags.extend(tag for tag in tags if tag not in row.tags)
            return None
        if len(value) > MAX_TEXT:
            return f"longer than {MAX_TEXT} characters"
        if kind == "email":
            email = value.lower()
            if not _EMAIL.fullmatch(email):
                return "not an e-mail address"
            if email not in row.emails:
                row.emails.append(email)
        elif kind == "full_name":
            parts = value.split()
            if len(parts) in (2, 3):  # "Фамилия Имя Отчество", the Russian order
                row.last_name, row.first_name = parts[0], parts[1]
                row.middle_name = parts[2] if len(parts) == 3 else None
            else:
                row.display_name = " ".join(parts)
        else:
            setattr(row, kind, value)
        return None


def parse_date(value: str) -> date | None:
    for pattern in ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        if 1900 <= parsed.year <= 2100:
            return parsed
    return None
