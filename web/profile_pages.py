"""``/profile``: the signed-in user's language, time zone, password, duty and API tokens."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, auth, profile
from callcenter.form_errors import FormInvalid, checkbox
from callcenter.models import Language, User
from callcenter.time_zones import choices as zone_choices
from web.auth import ANYONE_SIGNED_IN, SESSION_COOKIE, requires
from web.forms import posted, problem_texts, render_form_page
from web.json_api import int_param, me
from web.pages import LOGIN_THROTTLE
from web.rate_limit import retry_after
from web.state import HUB, SERVICES
from web.templating import gettext


async def _account(session: AsyncSession, request: web.Request) -> User:
    """The signed-in user's row in this session, to change it."""
    user = await session.get(User, me(request).id)
    assert user is not None  # signed in a moment ago
    return user


async def _profile_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    new_token: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        tokens = await profile.api_tokens(session, user)
    current = {"language": user.language, "time_zone": user.time_zone}
    return render_form_page(
        request,
        "profile.html",
        status,
        values={**current, **(values or {})},
        errors=errors or {},
        languages=[lang.value for lang in Language],
        time_zones=zone_choices(user.time_zone),
        may_be_on_duty=profile.may_be_on_duty(user),
        is_on_duty=user.is_on_duty,
        tokens=tokens,
        new_token=new_token,
        now=datetime.now(UTC),
    )


@requires(*ANYONE_SIGNED_IN)
async def profile_page(request: web.Request) -> web.StreamResponse:
    return await _profile_page(request)


@requires(*ANYONE_SIGNED_IN)
async def save_preferences(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        try:
            await profile.set_preferences(
                session, user, raw.get("language", ""), raw.get("time_zone", "")
            )
        except FormInvalid as exc:
            return await _profile_page(request, values=raw, errors=problem_texts(exc), status=400)
        await session.commit()
    # the next page is read in the new language and zone: the middleware loads the user
    raise web.HTTPSeeOther("/profile?saved=1")


@requires(*ANYONE_SIGNED_IN)
async def change_password(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    throttle = request.app[LOGIN_THROTTLE]
    address = request.remote or ""
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        # the current password is guessed here as on the sign-in page (by whoever has
        # the session): the same backoff, and a refused try checks no password
        wait = throttle.attempt(user.login, address)
        if wait:
            seconds = retry_after(wait)
            message = gettext("Too many wrong passwords; try again in %(seconds)s s.")
            response = await _profile_page(
                request, errors={"current_password": message % {"seconds": seconds}}, status=429
            )
            response.headers["Retry-After"] = seconds
            return response
        try:
            await profile.change_password(
                session,
                user,
                current=raw.get("current_password", ""),
                new=raw.get("new_password", ""),
                repeated=raw.get("repeat_password", ""),
                keep_token=request.cookies.get(SESSION_COOKIE),
            )
        except FormInvalid as exc:
            if "current_password" not in exc.problems:
                throttle.succeeded(user.login, address)  # the password was right
            return await _profile_page(request, errors=problem_texts(exc), status=400)
        throttle.succeeded(user.login, address)
        await audit.record(
            session, user, "user.password_change", "user", user.id, ip=request.remote
        )
        await session.commit()
    # the other sign-ins are gone (profile.change_password): so are their live channels
    token = request.cookies.get(SESSION_COOKIE)
    await request.app[HUB].disconnect(
        user.id, keep_session=auth.session_key(token) if token else None
    )
    raise web.HTTPSeeOther("/profile?saved=1")


@requires(*ANYONE_SIGNED_IN)
async def set_duty(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        try:
            await profile.set_on_duty(session, user, checkbox(raw, "on_duty"))
        except FormInvalid as exc:
            return await _profile_page(request, errors=problem_texts(exc), status=400)
        await session.commit()
    raise web.HTTPSeeOther("/profile?saved=1")


@requires(*ANYONE_SIGNED_IN)
async def issue_token(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        try:
            token = await profile.new_api_token(session, user, raw.get("token_name", ""))
        except FormInvalid as exc:
            return await _profile_page(request, values=raw, errors=problem_texts(exc), status=400)
        await audit.record(session, user, "api_token.issue", "user", user.id, ip=request.remote)
        await session.commit()
    # shown in this response only: it is not stored and never shown again
    response = await _profile_page(request, new_token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


@requires(*ANYONE_SIGNED_IN)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    token_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        user = await _account(session, request)
        key = await profile.revoke_api_token(session, user, token_id)
        if key is None:
            raise web.HTTPNotFound(text="no such token")
        await audit.record(
            session, user, "api_token.revoke", "api_token", token_id, ip=request.remote
        )
        await session.commit()
    await request.app[HUB].end_session(key)
    raise web.HTTPSeeOther("/profile?saved=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/profile", profile_page)
    app.router.add_post("/profile", save_preferences)
    app.router.add_post("/profile/password", change_password)
    app.router.add_post("/profile/duty", set_duty)
    app.router.add_post("/profile/tokens", issue_token)
    app.router.add_post("/profile/tokens/{id}/revoke", revoke_token)
