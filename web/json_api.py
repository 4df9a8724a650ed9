"""What every JSON route shares: reading the body, clear errors, the signed-in user.

Errors have one shape everywhere: ``{"error": "...", "fields": {"name": "why"}}``,
so a form can put each message beside its field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from callcenter.form_errors import FormInvalid, whole_number
from callcenter.models import User
from callcenter.telephony import TelephonyError
from web.auth import current_user


# positional-only, so that a field may be called "status" or "message"
def error_response(status: int, message: str, /, **fields: str) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    return web.json_response(body, status=status)


def invalid_input(exc: FormInvalid, message: str = "invalid input") -> web.Response:
    """A 400 naming each wrong field (in English: API clients read ids, not translations)."""
    return error_response(400, message, **exc.errors)


def refusal(status: type[web.HTTPException], message: str, /, **fields: str) -> web.HTTPException:
    """The same shape as ``error_response``, to raise from deep inside a handler."""
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    return status(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


async def json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise refusal(web.HTTPUnsupportedMediaType, "send application/json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise refusal(web.HTTPBadRequest, "the body is not valid JSON") from None
    if _has_nul(body):
        # PostgreSQL text cannot hold NUL, and no field of ours has a use for it
        raise refusal(web.HTTPBadRequest, "the body holds a NUL character (\\u0000)")
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def me(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None  # guarded by @requires
    return user


def int_param(request: web.Request, name: str) -> int:
    """A numeric path or query parameter; anything else is a 404, not a crash."""
    number = whole_number(request.match_info.get(name) or request.query.get(name, ""))
    if number is None:
        raise refusal(web.HTTPNotFound, f"no such {name}")
    return number


TELEPHONY_DOWN = "telephony unavailable: the AMI link is down"


@contextmanager
def telephony_errors() -> Iterator[None]:
    """The PBX's refusals and a lost link, as clear HTTP answers."""
    try:
        yield
    except ConnectionError:
        raise refusal(web.HTTPServiceUnavailable, TELEPHONY_DOWN) from None
    except TelephonyError as exc:  # the PBX said no (e.g. the phone is in no queue)
        raise refusal(web.HTTPConflict, str(exc)) from None
    except ValueError as exc:
        # the adapter would not send a value (UnsafeAmiValue): nothing was dialled,
        # e.g. a phone device the forms allow (PJSIP/op101@pbx:5060) but AMI does not
        raise refusal(web.HTTPConflict, str(exc)) from None
