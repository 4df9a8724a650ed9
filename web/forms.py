"""HTML forms: reading a posted form and showing a ``FormInvalid`` beside its fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from callcenter.form_errors import FormInvalid
from callcenter.models import CustomFieldDefinition, CustomFieldType
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


def custom_fields_body(
    form: Mapping[str, str], definitions: Sequence[CustomFieldDefinition]
) -> dict[str, str]:
    """The ``cf_KEY`` inputs in the shape the JSON API takes (an unticked box is not sent)."""
    return {
        d.key: ("true" if f"cf_{d.key}" in form else "false")
        if d.value_type == CustomFieldType.BOOL
        else form.get(f"cf_{d.key}", "")
        for d in definitions
    }


def custom_fields_shown_again(
    form: Mapping[str, str], definitions: Sequence[CustomFieldDefinition]
) -> dict[str, Any]:
    """The ``cf_KEY`` inputs as a refused form shows them again."""
    return {
        d.key: (f"cf_{d.key}" in form)
        if d.value_type == CustomFieldType.BOOL
        else form.get(f"cf_{d.key}", "")
        for d in definitions
    }
