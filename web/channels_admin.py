"""``/admin/channels``: ad channels, tracking numbers and the websites that send leads."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import ad_channels, audit, web_form_sites
from callcenter.ad_channels import ChannelError
from callcenter.form_errors import whole_number
from callcenter.models import AdChannel, TrackingNumber, WebFormSite
from callcenter.web_form_sites import SiteError
from web.auth import ADMINS, requires
from web.forms import posted
from web.json_api import int_param, me
from web.pages import page_context
from web.state import SERVICES

PAGE = "/admin/channels"


def form_snippet(api_url: str, token: str) -> str:
    """The HTML a site owner pastes into a page: a plain form, plus a few lines that pass
    the page's address and UTM tags along (the form works without them too)."""
    return f"""<form method="post" action="{api_url}" accept-charset="utf-8">
  <input type="hidden" name="token" value="{token}">
  <input name="name" placeholder="Имя" maxlength="200">
  <input name="phone" type="tel" placeholder="Телефон" maxlength="50">
  <input name="email" type="email" placeholder="E-mail" maxlength="254">
  <textarea name="message" placeholder="Комментарий" maxlength="4000"></textarea>
  <button type="submit">Отправить</button>
</form>
<script>
document.querySelectorAll('form[action="{api_url}"]').forEach(function (form) {{
  var query = new URLSearchParams(location.search);
  var extra = {{page: location.href}};
  ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"].forEach(
    function (tag) {{ if (query.get(tag)) extra[tag] = query.get(tag); }});
  Object.keys(extra).forEach(function (name) {{
    var input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = extra[name];
    form.appendChild(input);
  }});
}});
</script>"""


async def _render(
    request: web.Request,
    session: AsyncSession,
    status: int = 200,
    errors: dict[str, str] | None = None,
    new_token: tuple[WebFormSite, str] | None = None,
) -> web.StreamResponse:
    channels = list(await session.scalars(select(AdChannel).order_by(AdChannel.name)))
    names = {channel.id: channel.name for channel in channels}
    numbers = list(await session.scalars(select(TrackingNumber).order_by(TrackingNumber.did_e164)))
    sites = list(await session.scalars(select(WebFormSite).order_by(WebFormSite.name)))
    api_url = str(request.url.origin()) + "/api/v1/leads"
    context = page_context(
        request,
        channels=channels,
        channel_names=names,
        numbers=numbers,
        sites=sites,
        errors=errors or {},
        new_site=new_token[0] if new_token else None,
        new_token=new_token[1] if new_token else None,
        snippet=form_snippet(api_url, new_token[1]) if new_token else None,
        api_url=api_url,
    )
    return aiohttp_jinja2.render_template("admin_channels.html", request, context, status=status)


@requires(*ADMINS)
async def channels_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        return await _render(request, session)


async def _audit(
    request: web.Request, session: AsyncSession, action: str, entity: str, entity_id: int
) -> None:
    await audit.record(session, me(request), action, entity, entity_id, request.remote)


def _done() -> web.HTTPException:
    return web.HTTPSeeOther(PAGE)


async def _save_channel(request: web.Request, channel_id: int | None) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            channel = await ad_channels.save_channel(
                session, ad_channels.parse_channel(raw), channel_id
            )
        except ChannelError as exc:
            await session.rollback()
            return await _render(request, session, 400, exc.errors)
        await _audit(request, session, "ad_channel.save", "ad_channel", channel.id)
        await session.commit()
    raise _done()


@requires(*ADMINS)
async def add_channel(request: web.Request) -> web.StreamResponse:
    return await _save_channel(request, None)


@requires(*ADMINS)
async def edit_channel(request: web.Request) -> web.StreamResponse:
    return await _save_channel(request, int_param(request, "id"))


@requires(*ADMINS)
async def deactivate_channel(request: web.Request) -> web.StreamResponse:
    channel_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        channel = await session.get(AdChannel, channel_id)
        if channel is None:
            raise web.HTTPNotFound(text="no such channel")
        channel.is_active = False
        await _audit(request, session, "ad_channel.deactivate", "ad_channel", channel_id)
        await session.commit()
    raise _done()


@requires(*ADMINS)
async def add_number(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    services = request.app[SERVICES]
    async with services.db() as session:
        try:
            number = await ad_channels.add_tracking_number(
                session,
                raw.get("did", ""),
                whole_number(raw.get("ad_channel_id", "")),
                raw.get("label", ""),
                services.settings.default_region,
            )
        except ChannelError as exc:
            await session.rollback()
            return await _render(request, session, 400, exc.errors)
        await _audit(request, session, "tracking_number.add", "tracking_number", number.id)
        await session.commit()
    raise _done()


@requires(*ADMINS)
async def remove_number(request: web.Request) -> web.StreamResponse:
    number_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        await session.execute(delete(TrackingNumber).where(TrackingNumber.id == number_id))
        await _audit(request, session, "tracking_number.remove", "tracking_number", number_id)
        await session.commit()
    raise _done()


async def _show_token(
    request: web.Request, session: AsyncSession, site: WebFormSite, token: str, action: str
) -> web.StreamResponse:
    await _audit(request, session, action, "web_form_site", site.id)
    await session.commit()
    response = await _render(request, session, new_token=(site, token))
    response.headers["Cache-Control"] = "no-store"  # the token is shown this once
    return response


@requires(*ADMINS)
async def add_site(request: web.Request) -> web.StreamResponse:
    raw = await posted(request)
    async with request.app[SERVICES].db() as session:
        try:
            site, token = await web_form_sites.add_site(
                session, raw.get("name", ""), whole_number(raw.get("ad_channel_id", ""))
            )
        except SiteError as exc:
            await session.rollback()
            return await _render(request, session, 400, exc.errors)
        return await _show_token(request, session, site, token, "web_form_site.create")


@requires(*ADMINS)
async def rotate_site(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        try:
            site, token = await web_form_sites.rotate_token(session, int_param(request, "id"))
        except SiteError:
            raise web.HTTPNotFound(text="no such site") from None
        return await _show_token(request, session, site, token, "web_form_site.rotate")


@requires(*ADMINS)
async def deactivate_site(request: web.Request) -> web.StreamResponse:
    site_id = int_param(request, "id")
    async with request.app[SERVICES].db() as session:
        try:
            await web_form_sites.deactivate_site(session, site_id)
        except SiteError:
            raise web.HTTPNotFound(text="no such site") from None
        await _audit(request, session, "web_form_site.deactivate", "web_form_site", site_id)
        await session.commit()
    raise _done()


def add_routes(app: web.Application) -> None:
    app.router.add_get(PAGE, channels_page)
    app.router.add_post(PAGE, add_channel)
    app.router.add_post(PAGE + r"/{id:\d+}", edit_channel)
    app.router.add_post(PAGE + r"/{id:\d+}/deactivate", deactivate_channel)
    app.router.add_post(PAGE + "/numbers", add_number)
    app.router.add_post(PAGE + r"/numbers/{id:\d+}/delete", remove_number)
    app.router.add_post(PAGE + "/sites", add_site)
    app.router.add_post(PAGE + r"/sites/{id:\d+}/rotate", rotate_site)
    app.router.add_post(PAGE + r"/sites/{id:\d+}/deactivate", deactivate_site)
