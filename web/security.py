"""Headers and checks every response and every state-changing request gets."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from aiohttp import web

from callcenter.settings import Network
from web.state import SERVICES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# no inline script or style anywhere: script injection has nothing to run
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# a year; sent only on HTTPS (directly or through a trusted proxy): a browser that saw it
# never again sends the session cookie over plain HTTP to this host
HSTS = "max-age=31536000"


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


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def _trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in proxies)


def as_the_browser_sent_it(request: web.Request, proxies: Sequence[Network]) -> web.Request:
    """Behind a trusted reverse proxy, the request with the scheme the browser used and the
    browser's own address (X-Forwarded-Proto, X-Forwarded-For); from any other peer the
    request as it is, since anyone can send those headers."""
    if not proxies or not _trusted(request.remote, proxies):
        return request
    changes: dict[str, str] = {}
    # the value the nearest proxy wrote comes last
    protos = ",".join(request.headers.getall("X-Forwarded-Proto", [])).split(",")
    proto = protos[-1].strip().lower()
    if proto in ("http", "https"):
        changes["scheme"] = proto
    hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    hops = [hop.strip() for hop in hops if hop.strip()]
    if hops and all(_ip(hop) for hop in hops):
        # from the right, past our own proxies: the first address nobody we trust wrote
        client = next((hop for hop in reversed(hops) if not _trusted(hop, proxies)), hops[0])
        changes["remote"] = str(_ip(client))
    return request.clone(**changes) if changes else request  # type: ignore[arg-type]


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request = as_the_browser_sent_it(request, request.app[SERVICES].settings.trusted_proxies)
    try:
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and not same_origin(request)
            and not public_by_token(request)
        ):
            raise web.HTTPForbidden(text="cross-origin request refused")
        if request.content_type == "application/x-www-form-urlencoded" and await _nul_in_form(
            request
        ):
            raise web.HTTPBadRequest(text="the form holds a NUL character")
        response = await handler(request)
    except web.HTTPException as exc:
        # redirects and refusals are raised; they get the same headers
        _harden(exc, request.secure)
        raise
    _harden(response, request.secure)
    return response


async def _nul_in_form(request: web.Request) -> bool:
    """PostgreSQL text cannot hold NUL and no field of ours has a use for it: a form
    with one is refused here, before any page tries to store it (aiohttp keeps the
    parsed form for the handler). Multipart uploads (CSV files) are left to their
    readers: they stream, and reading them here would hold a whole file in memory."""
    form = await request.post()
    return any(isinstance(value, str) and "\0" in value for value in form.values())


def _harden(response: web.StreamResponse, secure: bool) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
