"""``POST /api/v1/leads``: leads from the forms of the center's websites.

A customer's website posts here from its visitors' browsers, so this route is unlike
the others: it is authenticated by the site's token (``Authorization: Bearer`` or a
``token`` field of a plain HTML form), never by a session cookie, and it accepts
posts from foreign origins (``web.security`` lets handlers marked ``public_by_token``
through; without cookies a cross-site post cannot act in anyone's name). It takes JSON
from scripts and ``fetch``, and url-encoded or multipart bodies from plain forms; a
plain form's visitor gets a small "thank you" page instead of JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping

from callcenter.web_form_sites import site_for_token
from callcenter.web_leads import LIMITS as FIELD_LIMITS
from callcenter.web_leads import LeadError, parse_lead, receive_lead
from web.openapi import documented
from web.rate_limit import RateLimiter, retry_after
from web.security import Handler
from web.state import HUB, SERVICES
from web.templating import current_language

MAX_BODY = 16 * 1024
PER_IP_PER_MINUTE = 30
PER_SITE_PER_MINUTE = 600
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_CORS = {"Access-Control-Allow-Origin": "*"}


@dataclass(frozen=True)
class LeadLimits:
    per_ip: RateLimiter
    per_site: RateLimiter


LEAD_LIMITS = web.AppKey("lead_limits", LeadLimits)


def public_by_token(handler: Handler) -> Handler:
    """Mark a handler that authenticates by a token in the request, not by a user session
    (the role-matrix test and the Origin check both read the mark)."""
    handler.public_by_token = True  # type: ignore[attr-defined]
    return handler


class _Refused(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}
        self.headers = headers or {}


_LEAD_BODY = {
    "type": "object",
    "properties": {
        name: {"type": "string", "maxLength": limit} for name, limit in FIELD_LIMITS.items()
    },
    "description": "at least one of phone and email; a plain form may send `token` too",
}
_LEAD_ANSWER = {
    "type": "object",
    "required": ["contact_id", "task_id", "new_contact"],
    "properties": {
        "contact_id": {"type": "integer"},
        "task_id": {"type": "integer"},
        "new_contact": {"type": "boolean"},
    },
}


@public_by_token
async def lead_preflight(request: web.Request) -> web.StreamResponse:
    """CORS preflight: any website may post leads here (the token decides)."""
    return web.Response(
        status=204,
        headers={
            **_CORS,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


@public_by_token
@documented(body=_LEAD_BODY, answer=_LEAD_ANSWER, status=201)
async def post_lead(request: web.Request) -> web.StreamResponse:
    """Take a lead from a website's form: a contact, a channel and a task for a manager."""
    is_form = request.content_type in _FORMS
    try:
        answer = await _take(request)
    except _Refused as refused:
        return _answer(request, is_form, refused, None)
    return _answer(request, is_form, None, answer)


async def _take(request: web.Request) -> dict[str, Any]:
    services = request.app[SERVICES]
    limits = request.app[LEAD_LIMITS]
    _limit(limits.per_ip, request.remote or "?")
    fields = await _fields(request)
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    token = token or str(fields.pop("token", "") or "")
    async with services.db() as session:
        site = await site_for_token(session, token)
    if site is None:
        raise _Refused(401, "unknown or inactive site token")
    _limit(limits.per_site, str(site.id))
    referer = request.headers.get("Referer", "")
    if not fields.get("page") and referer.startswith(("http://", "https://")):
        fields["page"] = referer[: FIELD_LIMITS["page"]]
    try:
        lead = parse_lead(fields, services.settings.default_region)
        outcome = await receive_lead(services.db, request.app[HUB], site.id, lead)
    except LeadError as exc:
        raise _Refused(400, "invalid lead", exc.errors) from None
    return outcome.as_json()


def _limit(limiter: RateLimiter, key: str) -> None:
    wait = limiter.take(key)
    if wait:
        seconds = retry_after(wait)
        raise _Refused(429, f"too many leads; retry in {seconds} s", None, {"Retry-After": seconds})


async def _fields(request: web.Request) -> dict[str, object]:
    if request.content_length is None:
        raise _Refused(411, "send a Content-Length")
    if request.content_length > MAX_BODY:
        raise _Refused(413, f"a lead is at most {MAX_BODY} bytes")
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Refused(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _Refused(400, "expected a JSON object")
        return body
    if request.content_type in _FORMS:
        try:
            return _first_texts(await request.post())
        except ValueError:
            raise _Refused(400, "the form cannot be read") from None
    raise _Refused(415, "send JSON or a form")


def _first_texts(form: MultiMapping[Any]) -> dict[str, object]:
    """The first value of each text field (files are not leads)."""
    fields: dict[str, object] = {}
    for name, value in form.items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields


def _answer(
    request: web.Request, is_form: bool, refused: _Refused | None, taken: dict[str, Any] | None
) -> web.StreamResponse:
    status = refused.status if refused else 201
    headers = {**_CORS, **(refused.headers if refused else {})}
    fields = refused.fields if refused else {}
    if is_form and "text/html" in request.headers.get("Accept", ""):
        # a visitor who pressed "send" on a plain form reads this page, not JSON
        context = {
            "sent": refused is None,
            "fields": fields,
            "status": status,
            "language": current_language.get(),
        }
        response = aiohttp_jinja2.render_template(
            "lead_answer.html", request, context, status=status
        )
        response.headers.update(headers)
        return response
    body = taken or {}
    if refused is not None:
        body = {"error": refused.message, **({"fields": fields} if fields else {})}
    return web.json_response(body, status=status, headers=headers)


def add_routes(app: web.Application) -> None:
    app[LEAD_LIMITS] = LeadLimits(RateLimiter(PER_IP_PER_MINUTE), RateLimiter(PER_SITE_PER_MINUTE))
    app.router.add_post("/api/v1/leads", post_lead)
    app.router.add_route("OPTIONS", "/api/v1/leads", lead_preflight)
