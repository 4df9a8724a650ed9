"""What is wrong with a filled-in form, field by field, in words the interface translates.

A message is an English message id of the interface catalogue (``web/translations``),
optionally with ``%(name)s`` placeholders filled from ``params`` after translation, so
the domain never needs to know the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    message: str
    params: Mapping[str, str] = field(default_factory=dict)


class FormInvalid(ValueError):
    """One or more fields are wrong; nothing was stored."""

    def __init__(self, problems: Mapping[str, Problem | str]) -> None:
        self.problems = {
            name: p if isinstance(p, Problem) else Problem(p) for name, p in problems.items()
        }
        super().__init__("; ".join(f"{k}: {p.message}" for k, p in self.problems.items()))


class Problems:
    """Collects every field's problem before refusing, so the form shows them all at once."""

    def __init__(self) -> None:
        self.found: dict[str, Problem] = {}

    def add(self, field_name: str, message: str, /, **params: str) -> None:
        self.found.setdefault(field_name, Problem(message, params))

    def raise_any(self) -> None:
        if self.found:
            raise FormInvalid(self.found)


def text_field(raw: Mapping[str, str], name: str, limit: int = 200) -> str:
    """A single-line value with surrounding and repeated spaces removed."""
    return " ".join(str(raw.get(name, "")).split())[:limit]


def checkbox(raw: Mapping[str, str], name: str) -> bool:
    return str(raw.get(name, "")) in ("on", "true", "1", "yes")
