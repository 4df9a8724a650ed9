"""Jinja2 set-up: autoescape everywhere, gettext and time zone bound to the current request."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.i18n import translations

current_language: ContextVar[str] = ContextVar("current_language", default="ru")
# the signed-in user's zone: a Vladivostok operator reads Vladivostok times
current_time_zone: ContextVar[str] = ContextVar("current_time_zone", default="Europe/Moscow")


def gettext(message: str) -> str:
    """A message id in the language of the request being answered."""
    return translations(current_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def user_zone() -> ZoneInfo:
    try:
        return ZoneInfo(current_time_zone.get())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def localtime(moment: datetime | str | None, pattern: str = "%d.%m.%Y %H:%M") -> str:
    """A timestamp (aware datetime or ISO text) as the reader's wall-clock time."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ValueError("a naive timestamp cannot be shown in the reader's time zone")
    return moment.astimezone(user_zone()).strftime(pattern)


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = localtime
    # ``_(text)`` marks what it returns as safe HTML (Jinja's new-style gettext): right for
    # a message id, an injection for anything holding data. ``text | translated`` is the
    # same lookup, escaped like every other value: for names built from data (a report
    # column named after a pause reason) and values read back from storage
    env.filters["translated"] = lambda text: gettext(str(text))
