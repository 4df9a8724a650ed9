"""Interface languages: Russian by default, English available.

Message ids are English; each language's catalogue is a ``.po`` file compiled in
memory at start-up, so the repository holds no binary ``.mo`` files.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from callcenter.settings import LANGUAGES

_CATALOGUES = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> Translations:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    with open(_CATALOGUES / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def pick_language(requested: str | None, default: str) -> str:
    return requested if requested in LANGUAGES else default
