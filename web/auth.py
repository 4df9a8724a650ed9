"""Who is asking: the session cookie (browsers), and the role each handler demands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from aiohttp import web

from callcenter import auth
from callcenter.models import User
from callcenter.settings import LANGUAGES
from web.security import Handler
from web.state import SERVICES
from web.templating import current_language, current_time_zone

SESSION_COOKIE = "cc_session"
LANGUAGE_COOKIE = "cc_lang"
USER = web.RequestKey("user", User)
# when the signed-in session of this request ends (absent for API tokens)
SESSION_ENDS = web.RequestKey("session_ends", datetime)

# who may use what; a handler names one of these in @requires(...), and the role
# matrix test reads them back from the route table
ANYONE_SIGNED_IN: tuple[str, ...] = ()
LEADERS = ("supervisor", "manager", "admin")  # everything about the team's work
MANAGERS = ("manager", "admin")  # lists, imports, campaigns, the client base as a whole
ADMINS = ("admin",)
# answered without looking anyone up: a health check must not depend on sessions
_ANONYMOUS_PATHS = ("/healthz", "/static/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(_ANONYMOUS_PATHS):
        return await handler(request)
    services = request.app[SERVICES]
    user: User | None = None
    token = request.cookies.get(SESSION_COOKIE)
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        async with services.db() as session:
            user = await auth.user_for_api_token(session, bearer.removeprefix("Bearer ").strip())
            await session.commit()
    elif token:
        async with services.db() as session:
            found = await auth.user_for_session(session, token)
            await session.commit()
        if found is not None:
            user, request[SESSION_ENDS] = found
    if user is not None:
        request[USER] = user
    language = (
        user.language if user else request.query.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    )
    reset = current_language.set(language if language in LANGUAGES else services.settings.language)
    reset_zone = current_time_zone.set(user.time_zone if user else "Europe/Moscow")
    try:
        response = await handler(request)
    finally:
        current_time_zone.reset(reset_zone)
        current_language.reset(reset)
    if not user and request.query.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            request.query["lang"],
            httponly=True,
            samesite="Lax",
            secure=request.secure,
        )
    return response


def current_user(request: web.Request) -> User | None:
    return request.get(USER)


def requires(*roles: str) -> Callable[[Handler], Handler]:
    """A page for these roles: anonymous visitors go to the login page, others get 403."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if user is None:
                if request.path.startswith("/api/"):
                    raise web.HTTPUnauthorized(text="sign in or send an API token")
                raise web.HTTPSeeOther("/login")
            if roles and user.role not in roles:
                raise web.HTTPForbidden(text="this page is not for your role")
            return await handler(request)

        guarded.allowed_roles = roles  # type: ignore[attr-defined]
        return guarded

    return decorate
