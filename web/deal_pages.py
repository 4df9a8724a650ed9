"""The sales funnel in the browser: the deal board, a new deal, a deal's card and its moves.

``add_routes`` also registers the funnel's JSON API (``web.deals_api``) and the admin
pages for stages and refusal reasons (``web.stage_admin``): one line in ``web.app``.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, pipeline
from callcenter.contact_export import ExportFormat
from callcenter.deal_board import DealCard, deal_detail, list_deals
from callcenter.form_errors import whole_number
from callcenter.funnel import (
    FunnelError,
    create_deal,
    move_and_announce,
    read_new_deal,
    read_stage_move,
)
from callcenter.models import PipelineStage, User
from web import deals_api, stage_admin
from web.auth import LEADERS, requires
from web.client_access import chosen_client
from web.forms import posted
from web.json_api import int_param, me
from web.list_files import download_links, list_file, local_time, requested_format
from web.pages import page_context
from web.state import HUB, SERVICES
from web.templating import gettext, user_zone


def translated(exc: FunnelError) -> tuple[str, dict[str, str]]:
    return gettext(exc.message), {name: gettext(why) for name, why in exc.fields.items()}


def board_columns(
    stages: list[PipelineStage], deals: list[DealCard]
) -> list[tuple[PipelineStage, list[DealCard]]]:
    """Active stages in order; an inactive stage shows only while deals still sit in it."""
    by_stage: dict[int, list[DealCard]] = {}
    for deal in deals:
        by_stage.setdefault(deal.stage_id, []).append(deal)
    return [(s, by_stage.get(s.id, [])) for s in stages if s.is_active or s.id in by_stage]


async def active_staff(session: AsyncSession) -> list[User]:
    rows = await session.scalars(select(User).where(User.is_active).order_by(User.full_name))
    return list(rows.all())


@requires()
async def deals_board(request: web.Request) -> web.StreamResponse:
    user = me(request)
    leader = user.role in LEADERS
    owner = request.query.get("owner", "")
    owner_id = None
    if owner == "me":
        owner_id = user.id
    elif leader:
        owner_id = whole_number(owner)
    fmt = requested_format(request)
    async with request.app[SERVICES].db() as session:
        deals = await list_deals(session, user, owner_id=owner_id)
        if fmt is not None:
            return await _deals_file(request, session, fmt, deals)
        stages = await pipeline.stages(session)
        staff = await active_staff(session) if leader else []
    context = page_context(
        request,
        columns=board_columns(stages, deals),
        owner=owner,
        leader=leader,
        staff=staff,
        downloads=download_links(request),
    )
    return aiohttp_jinja2.render_template("deals.html", request, context)


DEAL_COLUMNS = (
    "ID",
    "Title",
    "Client",
    "Company",
    "Stage",
    "Amount",
    "Currency",
    "Owner",
    "Refusal reason",
    "Created",
    "Closed",
)


async def _deals_file(
    request: web.Request, session: AsyncSession, fmt: ExportFormat, deals: list[DealCard]
) -> web.StreamResponse:
    """The board's deals as a file: leaders only, like every export of clients' data."""
    user = me(request)
    if user.role not in LEADERS:
        raise web.HTTPForbidden(text="only leaders export lists")
    zone = user_zone()
    rows = [
        (
            deal.id,
            deal.title,
            deal.contact_name,
            deal.company_name,
            deal.stage_name,
            deal.amount,
            deal.currency,
            deal.owner_name,
            deal.refusal_reason,
            local_time(deal.created_at, zone),
            local_time(deal.closed_at, zone),
        )
        for deal in deals
    ]
    await audit.record(
        session, user, "deals.export", ip=request.remote, query=dict(request.query), rows=len(rows)
    )
    await session.commit()
    header = [gettext(column) for column in DEAL_COLUMNS]
    return list_file(fmt, "deals", gettext("Deals"), header, rows)


async def _new_deal_form(
    request: web.Request,
    values: dict[str, str],
    *,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = me(request)
    async with request.app[SERVICES].db() as session:
        contact = await chosen_client(session, user, values.get("contact_id", ""))
        stages = [
            s
            for s in await pipeline.stages(session, active_only=True)
            if not (s.is_won or s.is_lost)
        ]
        staff = await active_staff(session) if user.role in LEADERS else []
    context = page_context(
        request,
        values=values,
        contact=contact,
        stages=stages,
        staff=staff,
        error=error,
        fields=fields or {},
    )
    return aiohttp_jinja2.render_template("deal_new.html", request, context, status=status)


@requires()
async def new_deal_page(request: web.Request) -> web.StreamResponse:
    values = {"contact_id": request.query.get("contact_id", ""), "currency": "RUB"}
    return await _new_deal_form(request, values)


@requires()
async def new_deal_submit(request: web.Request) -> web.StreamResponse:
    user = me(request)
    values = await posted(request)
    try:
        new = read_new_deal(values)
        async with request.app[SERVICES].db() as session:
            deal = await create_deal(session, new, user)
            await session.commit()
    except FunnelError as exc:
        error, fields = translated(exc)
        return await _new_deal_form(request, values, error=error, fields=fields, status=400)
    raise web.HTTPSeeOther(f"/deals/{deal.id}")


async def _deal_page(
    request: web.Request,
    *,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    chosen: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = me(request)
    deal_id = int_param(request, "deal_id")
    async with request.app[SERVICES].db() as session:
        detail = await deal_detail(session, user, deal_id)
        if detail is None:
            raise web.HTTPNotFound(text="no such deal")
        # an inactive stage is offered only to the deals still sitting in it
        stages = [
            stage
            for stage in await pipeline.stages(session)
            if stage.is_active or stage.id == detail.card.stage_id
        ]
        reasons = await pipeline.refusal_reasons(session, active_only=True)
    context = page_context(
        request,
        deal=detail.card,
        history=detail.history,
        stages=stages,
        reasons=reasons,
        error=error,
        fields=fields or {},
        chosen=chosen or {},
    )
    return aiohttp_jinja2.render_template("deal.html", request, context, status=status)


@requires()
async def deal_page(request: web.Request) -> web.StreamResponse:
    return await _deal_page(request)


@requires()
async def move_deal_submit(request: web.Request) -> web.StreamResponse:
    user = me(request)
    deal_id = int_param(request, "deal_id")
    values = await posted(request)
    async with request.app[SERVICES].db() as session:
        if await deal_detail(session, user, deal_id) is None:
            raise web.HTTPNotFound(text="no such deal")
        try:
            await move_and_announce(
                session, request.app[HUB], deal_id, read_stage_move(values), user
            )
        except FunnelError as exc:
            await session.rollback()
            error, fields = translated(exc)
            return await _deal_page(request, error=error, fields=fields, chosen=values, status=400)
    raise web.HTTPSeeOther(f"/deals/{deal_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/deals", deals_board)
    app.router.add_get("/deals/new", new_deal_page)
    app.router.add_post("/deals/new", new_deal_submit)
    app.router.add_get(r"/deals/{deal_id:\d+}", deal_page)
    app.router.add_post(r"/deals/{deal_id:\d+}/stage", move_deal_submit)
    deals_api.add_routes(app)
    stage_admin.add_routes(app)
