"""Both interface languages know every message the templates use."""

from __future__ import annotations

import re
from pathlib import Path

from web.i18n import merged_catalogue, translations

WEB = Path(__file__).resolve().parents[2] / "web"


def catalogue(language: str) -> dict[str, str]:
    return {m.id: m.string for m in merged_catalogue(language) if m.id}


def template_messages() -> set[str]:
    found: set[str] = set()
    for template in (WEB / "templates").rglob("*.html"):
        found |= set(re.findall(r"""_\(\s*["']([^"']+)["']""", template.read_text()))
    return found


def test_russian_translates_every_message_the_templates_use() -> None:
    russian = catalogue("ru")
    assert {"Sign in", "Call result", "Unknown caller"} <= template_messages()
    missing = sorted(m for m in template_messages() if not russian.get(m))
    assert missing == []


def test_both_catalogues_have_the_same_messages() -> None:
    assert set(catalogue("ru")) == set(catalogue("en"))


def test_every_catalogue_file_of_a_language_is_read() -> None:
    files = {p.name for p in (WEB / "translations" / "ru" / "LC_MESSAGES").glob("*.po")}
    assert files == {p.name for p in (WEB / "translations" / "en" / "LC_MESSAGES").glob("*.po")}
    # a message from the first file and the interface speaks Russian through all of them
    assert translations("ru").gettext("Sign out") == "Выйти"
