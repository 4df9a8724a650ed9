"""HTML forms: reading a posted form and showing a ``FormInvalid`` beside its fields."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.form_errors import FormInvalid
from web.pages import page_context
from web.templating import gettext

MAX_VALUE = 10_000


async def posted(request: web.Request) -> dict[str, str]:
    """The form's text fields (files and over-long values are cut, never stored)."""
    form = await request.post()
    return {key: value[:MAX_VALUE] for key, value in form.items() if isinstance(value, str)}


def problem_texts(exc: FormInvalid) -> dict[str, str]:
    """Each wrong field's message in the reader's language."""
    return {
        name: gettext(problem.message) % dict(problem.params)
        if problem.params
        else gettext(problem.message)
        for name, problem in exc.problems.items()
    }


def render_form_page(
    request: web.Request, template: str, status: int = 200, **extra: Any
) -> web.StreamResponse:
    """A page of forms; after a change it redirects to itself with ``?saved=1``, and the
    page then says "Changes saved."."""
    context = page_context(request, saved=request.query.get("saved") == "1", **extra)
    return aiohttp_jinja2.render_template(template, request, context, status=status)
