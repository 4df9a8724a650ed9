"""A campaign's call script with the client's fields filled in.

Placeholders are ``{first_name}``, ``{last_name}``, ``{middle_name}``, ``{name}``,
``{company}``, ``{position}``, ``{region}``, ``{phone}``, ``{operator}`` and
``{custom.<key>}`` (the client's own field, else the imported column of the lead).
The script is a manager's text, so it is never handed to ``str.format``: a regular
expression swaps known names for values and leaves everything else exactly as typed
(no attribute or index access, no format specs, no surprise on a stray brace).
The result is plain text; the page escapes it like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from callcenter.lookup import contact_name
from callcenter.models import Contact, Lead

PLACEHOLDER = re.compile(r"\{([a-z_]{1,40}|custom\.[A-Za-z0-9_-]{1,63})\}")
MAX_VALUE = 500
PLAIN_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "name",
    "company",
    "position",
    "region",
    "phone",
    "operator",
)


def _shown(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return None
    return " ".join(str(value).split())[:MAX_VALUE]


def render_script(
    script: str, fields: Mapping[str, Any], custom: Mapping[str, Any] | None = None
) -> str:
    """``script`` with each known placeholder replaced; an unknown or empty one stays."""
    custom = custom or {}

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("custom."):
            found = _shown(custom.get(key.removeprefix("custom.")))
        elif key in PLAIN_FIELDS:
            found = _shown(fields.get(key))
        else:
            found = None
        return found if found else match.group(0)

    return PLACEHOLDER.sub(value, script)


def lead_script(
    script: str | None,
    lead: Lead,
    operator_name: str,
    contact: Contact | None = None,
    company: str | None = None,
) -> str:
    """A campaign's script for one lead: the client's fields when the operator may see
    the client (``contact``), else only what the dial list itself says."""
    fields: dict[str, Any] = {"phone": lead.phone_raw, "operator": operator_name}
    custom: dict[str, Any] = dict(lead.fields or {})
    if contact is not None:
        fields.update(
            first_name=contact.first_name,
            last_name=contact.last_name,
            middle_name=contact.middle_name,
            name=contact_name(contact),
            company=company,
            position=contact.position,
            region=contact.region,
        )
        custom.update(contact.custom_fields or {})
    return render_script(script or "", fields, custom)
