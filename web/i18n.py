"""Interface languages: Russian by default, English available.

Message ids are English; each language's catalogue is the ``.po`` files of its
folder (one per part of the product, so parts grow without editing one shared file),
merged and compiled in memory at start-up: the repository holds no binary ``.mo`` files.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from callcenter.settings import LANGUAGES

_CATALOGUES = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> Translations:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    catalog = merged_catalogue(language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def merged_catalogue(language: str) -> Catalog:
    """Every ``*.po`` of the language; a message id defined twice is a mistake."""
    merged = Catalog(locale=language)
    for path in sorted((_CATALOGUES / language / "LC_MESSAGES").glob("*.po")):
        with open(path, "rb") as po:
            part = read_po(po, locale=language)
        for message in part:
            if not message.id:
                continue
            if message.id in merged:
                raise ValueError(f"{path.name}: {message.id!r} is already translated elsewhere")
            merged[message.id] = message
    return merged


def pick_language(requested: str | None, default: str) -> str:
    return requested if requested in LANGUAGES else default
