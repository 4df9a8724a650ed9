"""Jinja2 set-up: autoescape everywhere, gettext bound to the current request's language."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.i18n import translations

current_language: ContextVar[str] = ContextVar("current_language", default="ru")


def _gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
