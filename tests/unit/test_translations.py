"""Both interface languages know every message the templates use."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"


def catalogue(language: str) -> dict[str, str]:
    with open(WEB / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return {m.id: m.string for m in read_po(po, locale=language) if m.id}


def template_messages() -> set[str]:
    found: set[str] = set()
    for template in (WEB / "templates").glob("*.html"):
        found |= set(re.findall(r"""_\(\s*["']([^"']+)["']""", template.read_text()))
    return found


def test_russian_translates_every_message_the_templates_use() -> None:
    russian = catalogue("ru")
    assert {"Sign in", "Call result", "Unknown caller"} <= template_messages()
    missing = sorted(m for m in template_messages() if not russian.get(m))
    assert missing == []


def test_both_catalogues_have_the_same_messages() -> None:
    assert set(catalogue("ru")) == set(catalogue("en"))
