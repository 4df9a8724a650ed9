"""Login, logout and the operator console page."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcenter import auth
from callcenter.agent_state import PAUSE_REASONS
from callcenter.call_history import recent_calls
from callcenter.login_throttle import LoginThrottle
from callcenter.missed_calls import open_callbacks
from callcenter.models import Disposition
from callcenter.telephony import TelephonyError
from web.auth import SESSION_COOKIE, current_user, requires
from web.rate_limit import retry_after
from web.state import HUB, SERVICES
from web.templating import current_language, gettext

# per web process (callcenter/login_throttle.py); tests put one on a hand-driven clock here
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)


def page_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What every page's template reads (``base.html`` and the login form), plus ``extra``."""
    return {
        "user": current_user(request),
        "language": current_language.get(),
        "telephony_state": request.app[SERVICES].telephony.state,
        "error": None,
        "login": "",
        **extra,
    }


async def login_form(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        raise web.HTTPSeeOther("/")
    return aiohttp_jinja2.render_template("login.html", request, page_context(request))


async def login_submit(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await request.post()
    login = str(form.get("login", ""))[:200]
    password = str(form.get("password", ""))[:1000]
    address = request.remote or ""
    throttle = request.app[LOGIN_THROTTLE]
    wait = throttle.attempt(login, address)
    if wait:
        # the same answer for every login, existing or not; the password is not checked
        seconds = retry_after(wait)
        error = gettext("Too many sign-in attempts; try again in %(seconds)s s.") % {
            "seconds": seconds
        }
        response = aiohttp_jinja2.render_template(
            "login.html", request, page_context(request, error=error, login=login), status=429
        )
        response.headers["Retry-After"] = seconds
        return response
    async with services.db() as session:
        signed_in = await auth.sign_in(
            session,
            login,
            password,
            user_agent=request.headers.get("User-Agent", "")[:300],
            ip=address,
        )
        await session.commit()
    if signed_in is None:
        error = gettext("Wrong login or password.")
        return aiohttp_jinja2.render_template(
            "login.html", request, page_context(request, error=error, login=login), status=401
        )
    throttle.succeeded(login, address)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with request.app[SERVICES].db() as session:
            await auth.sign_out(session, token)
            await session.commit()
        # the pages this browser still has open stop getting the user's calls and tasks
        await request.app[HUB].end_session(auth.session_key(token))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


@requires()
async def console(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    assert user is not None
    language = current_language.get()
    async with request.app[SERVICES].db() as session:
        calls = await recent_calls(session, user.id)
        callbacks = await open_callbacks(session, user.id)
        rows = await session.execute(
            select(Disposition.code, Disposition.label_ru, Disposition.label_en)
            .where(Disposition.is_active.is_(True))
            .order_by(Disposition.position)
        )
        dispositions = [
            {"code": code, "label": (label_en or label_ru) if language == "en" else label_ru}
            for code, label_ru, label_en in rows
        ]
    context = page_context(
        request,
        recent_calls=calls,
        dispositions=dispositions,
        callbacks=callbacks,
        pause_reasons=PAUSE_REASONS,
        agent_state=await _agent_state(request, user.interface),
    )
    return aiohttp_jinja2.render_template("console.html", request, context)


async def _agent_state(request: web.Request, device: str | None) -> str:
    """ "ready", "paused" or "" (unknown: no phone, no telephony, or a slow PBX)."""
    telephony = request.app[SERVICES].telephony
    if not device or telephony.state != "connected":
        return ""
    try:
        async with asyncio.timeout(1):
            report = await telephony.queue_status()
    except (TimeoutError, ConnectionError, TelephonyError):
        return ""
    mine = [m for m in report.members if m.device.lower() == device.lower()]
    if not mine:
        return ""
    return "paused" if all(m.paused for m in mine) else "ready"


def add_routes(app: web.Application) -> None:
    app[LOGIN_THROTTLE] = LoginThrottle()
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", console)
