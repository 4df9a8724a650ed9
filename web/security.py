"""Headers and checks every response and every state-changing request gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# no inline script or style anywhere: script injection has nothing to run
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def same_origin(request: web.Request) -> bool:
    """A browser always sends Origin on a cross-site POST; it must name this host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser form post from another site (curl, API clients)
    return urlsplit(origin).netloc == request.host


def public_by_token(request: web.Request) -> bool:
    """A route authenticated by a token in the request itself, never by cookies (web-form
    leads): a post from another site cannot act in anyone's name there, so it may come
    from any origin."""
    return bool(getattr(request.match_info.handler, "public_by_token", False))


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and not same_origin(request)
            and not public_by_token(request)
        ):
            raise web.HTTPForbidden(text="cross-origin request refused")
        response = await handler(request)
    except web.HTTPException as exc:
        # redirects and refusals are raised; they get the same headers
        _harden(exc)
        raise
    _harden(response)
    return response


def _harden(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
