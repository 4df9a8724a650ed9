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
    checked: dict[str, str | list[str]] = {}
    for key, value in fields.items():
        if not _KEY.match(key):
            raise UnsafeAmiValue(f"bad AMI field name {key!r}")
        if isinstance(value, list | tuple):
            checked[key] = [safe_value(key, item) for item in value]
        else:
            checked[key] = safe_value(key, value)
    return checked
