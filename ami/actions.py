"""Validation of every value that goes into an AMI action.

panoramisk writes ``key: value`` lines without escaping, so a CR or LF inside a
value would start a second, attacker-chosen action. Every field passes through
here before it reaches panoramisk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FORBIDDEN = re.compile(r"[\r\n\0]")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_VALUE_LENGTH = 1024
# never sent by this product; refused even if the AMI user were granted them
REFUSED_ACTIONS = frozenset(
    {"command", "updateconfig", "createconfig", "getconfig", "getconfigjson"}
)
# an Originate runs either dialplan (Context/Exten) or one of these applications
ORIGINATE_APPLICATIONS = frozenset({"chanspy"})


class UnsafeAmiValue(ValueError):
    """A value that must not be sent to Asterisk."""


def safe_value(key: str, value: object) -> str:
    text = str(value)
    if _FORBIDDEN.search(text):
        raise UnsafeAmiValue(f"AMI field {key!r} contains a line break or NUL")
    if len(text) > MAX_VALUE_LENGTH:
        raise UnsafeAmiValue(f"AMI field {key!r} is longer than {MAX_VALUE_LENGTH} characters")
    return text


def safe_action(fields: Mapping[str, object]) -> dict[str, str | list[str]]:
    """A copy of ``fields`` with every key and value checked; lists stay lists (Variable:)."""
    if "Action" not in fields:
        raise UnsafeAmiValue("an AMI action needs an 'Action' field")
    name = str(fields["Action"]).lower()
    if name in REFUSED_ACTIONS:
        raise UnsafeAmiValue(f"AMI action {fields['Action']!r} is not allowed")
    application = next((v for k, v in fields.items() if k.lower() == "application"), None)
    if (
        name == "originate"
        and application is not None
        and str(application).lower() not in ORIGINATE_APPLICATIONS
    ):
        raise UnsafeAmiValue(f"Originate into application {application!r} is not allowed")
    checked: dict[str, str | list[str]] = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise UnsafeAmiValue(f"bad AMI field name {key!r}")
        if isinstance(value, list | tuple):
            checked[key] = [safe_value(key, item) for item in value]
        else:
            checked[key] = safe_value(key, value)
    return checked
