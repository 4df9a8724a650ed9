"""HTML forms: reading a posted form and showing a ``FormInvalid`` beside its fields."""

from __future__ import annotations

from aiohttp import web

from callcenter.form_errors import FormInvalid
from web.i18n import translations
from web.templating import current_language

MAX_VALUE = 10_000


async def posted(request: web.Request) -> dict[str, str]:
    """The form's text fields (files and over-long values are cut, never stored)."""
    form = await request.post()
    return {key: value[:MAX_VALUE] for key, value in form.items() if isinstance(value, str)}


def problem_texts(exc: FormInvalid) -> dict[str, str]:
    """Each wrong field's message in the reader's language."""
    gettext = translations(current_language.get()).gettext
    return {
        name: gettext(problem.message) % dict(problem.params)
        if problem.params
        else gettext(problem.message)
        for name, problem in exc.problems.items()
    }


def gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)
