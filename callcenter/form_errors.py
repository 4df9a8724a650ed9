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

    @property
    def errors(self) -> dict[str, str]:
        """Each wrong field's message untranslated, placeholders filled: what API clients read."""
        return {
            name: problem.message % dict(problem.params) if problem.params else problem.message
            for name, problem in self.problems.items()
        }


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


MAX_LABEL = 200


def labels(raw: Mapping[str, str], problems: Problems) -> tuple[str, str]:
    """An admin list entry's names: ``label_ru`` is required, ``label_en`` may be blank."""
    label_ru = text_field(raw, "label_ru", MAX_LABEL + 1)
    label_en = text_field(raw, "label_en", MAX_LABEL + 1)
    if not label_ru:
        problems.add("label_ru", "Enter the Russian label.")
    for name, label in (("label_ru", label_ru), ("label_en", label_en)):
        if len(label) > MAX_LABEL:
            problems.add(name, "At most 200 characters.")
    return label_ru, label_en


def whole_number(text: str, max_digits: int = 18) -> int | None:
    """A typed number such as a row id, or None: ASCII digits only (``str.isdigit`` also
    takes "²", which ``int`` refuses) and short enough for a bigint."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def checkbox(raw: Mapping[str, str], name: str) -> bool:
    return str(raw.get(name, "")) in ("on", "true", "1", "yes")
