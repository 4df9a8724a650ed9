"""The operator's preview work: the next lead's card and script, Dial or Skip, the result.

Only operators assigned to a running preview campaign get leads. The lead shown is
claimed for the operator (``dialer.preview``), so nobody else sees it meanwhile; Dial
rings the operator's own phone first, then the client, like click-to-dial.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import campaigns
from callcenter.access import may_see_contact, visible_contacts
from callcenter.call_script import lead_script
from callcenter.client_card import ClientCard, load_card
from callcenter.dialer_desk import DIALLING, DialerDesk, NotConnected
from callcenter.form_errors import FormInvalid
from callcenter.models import (
    AttemptOutcome,
    CallAttempt,
    Campaign,
    CampaignOperator,
    CampaignStatus,
    Contact,
    DialMode,
    Disposition,
    Lead,
    RefusalReason,
    User,
)
from callcenter.telephony import OriginateRequest, TelephonyError
from web.auth import ANYONE_SIGNED_IN, requires
from web.campaign_pages import desk
from web.console_api import _dialable
from web.forms import problem_texts
from web.json_api import int_param, me, refusal
from web.pages import page_context
from web.state import SERVICES
from web.templating import gettext, user_zone

_TELEPHONY_DOWN = "Telephony is unavailable: the link to the PBX is down."
# why the dialer would not dial a lead (dialer.leads.Hold), as the operator reads it
_HOLDS = {
    "not_ours": "This client was given to someone else meanwhile.",
    "campaign_not_running": "The campaign is not running.",
    "do_not_call": "The number is on the do-not-call list.",
    "no_consent": "The client has not agreed to advertising calls.",
    "outside_window": "It is outside the calling hours in the client's time zone.",
    "lines_busy": "All lines are busy: try again in a moment.",
}


def now() -> datetime:
    return datetime.now(UTC)


async def _my_campaign(session: AsyncSession, request: web.Request) -> Campaign:
    """The campaign of the URL, when the signed-in operator is assigned to it."""
    campaign = await session.get(Campaign, int_param(request, "id"))
    if campaign is None:
        raise refusal(web.HTTPNotFound, "no such campaign")
    if not await campaigns.is_assigned(session, campaign.id, me(request).id):
        raise refusal(web.HTTPForbidden, "you are not assigned to this campaign")
    return campaign


async def _my_lead(session: AsyncSession, request: web.Request, campaign: Campaign) -> Lead:
    lead = await session.get(Lead, int_param(request, "lead_id"))
    if lead is None or lead.campaign_id != campaign.id:
        raise refusal(web.HTTPNotFound, "no such lead")
    return lead


async def _shown_lead(
    session: AsyncSession, user: User, campaign: Campaign, lead: Lead
) -> dict[str, Any]:
    """The lead's card (when the operator may see the client) and the script filled in."""
    card: ClientCard | None = None
    contact = await session.get(Contact, lead.contact_id) if lead.contact_id else None
    if contact is not None and await may_see_contact(session, user, contact):
        card = await load_card(session, contact.id, await visible_contacts(session, user))
    company = card.company.name if card is not None and card.company else None
    script = lead_script(
        campaign.script, lead, user.full_name, contact if card is not None else None, company
    )
    return {
        "lead": lead,
        "card": card,
        "hidden_client": contact is not None and card is None,
        "script": script,
    }


# -- the operator's campaigns ---------------------------------------------------------


@requires(*ANYONE_SIGNED_IN)
async def work_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        mine = (
            await session.execute(
                select(Campaign.id, Campaign.name, Campaign.status)
                .join(CampaignOperator, CampaignOperator.campaign_id == Campaign.id)
                .where(
                    CampaignOperator.user_id == me(request).id,
                    Campaign.mode == DialMode.PREVIEW,
                    Campaign.status.in_([CampaignStatus.RUNNING, CampaignStatus.PAUSED]),
                )
                .order_by(Campaign.name)
            )
        ).all()
    context = page_context(request, campaigns=mine)
    return aiohttp_jinja2.render_template("work.html", request, context)


@requires(*ANYONE_SIGNED_IN)
async def next_lead_page(request: web.Request) -> web.StreamResponse:
    return await _next_lead_view(request)


async def _next_lead_view(
    request: web.Request, *, problem: str = "", errors: dict[str, str] | None = None
) -> web.StreamResponse:
    user = me(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _my_campaign(session, request)
        dialer = desk(request)
        # a refused Dial comes back here, maybe with no lead left to show
        shown: dict[str, Any] = {"lead": None}
        working = campaign.status == CampaignStatus.RUNNING and campaign.mode == DialMode.PREVIEW
        if working:
            lead = await dialer.next_lead(session, campaign, user, now())
            if lead is not None:
                attempt = await dialer.last_attempt(session, lead.id, user)
                if attempt is not None and attempt.outcome == AttemptOutcome.PENDING:
                    # being dialled (a reload after Dial): the result form is next
                    await session.commit()
                    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}/leads/{lead.id}/result")
                shown = await _shown_lead(session, user, campaign, lead)
        await session.commit()
    context = page_context(
        request,
        campaign=campaign,
        working=working,
        problem=gettext(problem) if problem else "",
        errors=errors or {},
        **shown,
    )
    status = 409 if problem else 400 if errors else 200
    return aiohttp_jinja2.render_template("preview.html", request, context, status=status)


@requires(*ANYONE_SIGNED_IN)
async def dial_lead(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = me(request)
    dialer = desk(request)
    if not user.interface:
        return await _next_lead_view(request, problem="You have no phone: ask an admin.")
    if services.telephony.state != "connected":
        return await _next_lead_view(request, problem=_TELEPHONY_DOWN)
    async with services.db() as session:
        campaign = await _my_campaign(session, request)
        lead = await _my_lead(session, request, campaign)
    async with services.db() as guard, dialer.sending(guard, campaign.id):
        return await _dial(request, dialer, campaign, lead)


async def _dial(
    request: web.Request, dialer: DialerDesk, campaign: Campaign, lead: Lead
) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = me(request)
    assert user.interface is not None  # dial_lead checked it
    result_page = f"/campaigns/{campaign.id}/leads/{lead.id}/result"
    async with services.db() as session:
        prepared = await dialer.prepare_dial(session, lead, campaign, user, now())
        await session.commit()  # the pending attempt is stored before the Originate
        if prepared == DIALLING:
            raise web.HTTPSeeOther(result_page)  # Dial pressed twice: go where the first went
        if isinstance(prepared, str):
            return await _next_lead_view(request, problem=_HOLDS.get(prepared, _HOLDS["not_ours"]))
        attempt: CallAttempt = prepared
        caller_id = campaign.caller_id or ""
        request_ = OriginateRequest(
            endpoint=user.interface.split("/", 1)[1],
            number=_dialable(lead.phone_e164, services.settings.default_region),
            caller_id=caller_id,
            variables={
                "CALLCENTER_USER": str(user.id),
                # inherited by every leg, so the call's events name the attempt
                "__CALLCENTER_CAMPAIGN": str(campaign.id),
                "__CALLCENTER_LEAD": str(lead.id),
                "__CALLCENTER_ATTEMPT": attempt.action_id,
            },
        )
        try:
            await services.telephony.originate(request_)
        except (TelephonyError, ConnectionError, ValueError) as exc:
            # ValueError: a value the adapter would not send (UnsafeAmiValue), nothing dialled
            known = not isinstance(exc, ConnectionError)
            await dialer.originate_failed(session, attempt, now(), outcome_known=known)
            await session.commit()
            return await _next_lead_view(request, problem=_TELEPHONY_DOWN)
    raise web.HTTPSeeOther(result_page)


@requires(*ANYONE_SIGNED_IN)
async def skip_lead(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    reason = str(form.get("reason", ""))[:2000]
    async with request.app[SERVICES].db() as session:
        campaign = await _my_campaign(session, request)
        lead = await _my_lead(session, request, campaign)
        try:
            await desk(request).skip(session, lead, me(request), reason, now())
        except FormInvalid as exc:
            await session.rollback()
            return await _next_lead_view(request, errors=problem_texts(exc))
        await session.commit()
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}/next")


# -- after the call -----------------------------------------------------------------------


async def _result_view(
    request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.StreamResponse:
    user = me(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _my_campaign(session, request)
        lead = await _my_lead(session, request, campaign)
        attempt = await desk(request).last_attempt(session, lead.id, user)
        if attempt is None:
            raise refusal(web.HTTPForbidden, "you did not dial this client")
        shown = await _shown_lead(session, user, campaign, lead)
        dispositions = await campaigns.allowed_dispositions(session, campaign)
        reasons = (
            await session.execute(
                select(RefusalReason.id, RefusalReason.name)
                .where(RefusalReason.is_active.is_(True))
                .order_by(RefusalReason.name)
            )
        ).all()
    context = page_context(
        request,
        campaign=campaign,
        attempt=attempt,
        dispositions=dispositions,
        reasons=reasons,
        not_connected=[n.value for n in NotConnected],
        errors=errors or {},
        **shown,
    )
    return aiohttp_jinja2.render_template("preview_result.html", request, context, status=status)


@requires(*ANYONE_SIGNED_IN)
async def result_page(request: web.Request) -> web.StreamResponse:
    return await _result_view(request)


def _callback_at(raw: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        raise FormInvalid(
            {"callback_at": "Choose a time in the future for the callback."}
        ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=user_zone())
    return moment


def _id(raw: object) -> int | None:
    text = str(raw or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


@requires(*ANYONE_SIGNED_IN)
async def save_result(request: web.Request) -> web.StreamResponse:
    user = me(request)
    form = await request.post()
    dialer = desk(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _my_campaign(session, request)
        lead = await _my_lead(session, request, campaign)
        attempt = await dialer.last_attempt(session, lead.id, user)
        if attempt is None:
            raise refusal(web.HTTPForbidden, "you did not dial this client")
        allowed = {d.id: d for d in await campaigns.allowed_dispositions(session, campaign)}
        disposition: Disposition | None = allowed.get(_id(form.get("disposition_id")) or 0)
        try:
            if disposition is None:
                raise FormInvalid({"disposition_id": "Choose the call's result."})
            await dialer.dispose(
                session,
                attempt,
                disposition,
                user,
                now(),
                refusal_reason_id=_id(form.get("refusal_reason_id")),
                callback_at=_callback_at(str(form.get("callback_at", ""))[:40]),
            )
        except FormInvalid as exc:
            await session.rollback()
            return await _result_view(request, errors=problem_texts(exc), status=400)
        await session.commit()
    if campaign.mode != DialMode.PREVIEW:
        raise web.HTTPSeeOther("/")  # the automatic dialer brings the next call to the console
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}/next")


@requires(*ANYONE_SIGNED_IN)
async def report_not_connected(request: web.Request) -> web.StreamResponse:
    user = me(request)
    form = await request.post()
    try:
        outcome = NotConnected(str(form.get("outcome", "")))
    except ValueError:
        return await _result_view(
            request, errors={"outcome": gettext("Choose what happened.")}, status=400
        )
    dialer = desk(request)
    async with request.app[SERVICES].db() as session:
        campaign = await _my_campaign(session, request)
        lead = await _my_lead(session, request, campaign)
        attempt = await dialer.last_attempt(session, lead.id, user)
        # only the operator's own (preview) call: the automatic dialer hears its own
        if attempt is None or attempt.user_id is None:
            raise refusal(web.HTTPForbidden, "you did not dial this client")
        await dialer.not_connected(session, attempt, outcome, now())
        await session.commit()
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}/next")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/work", work_page)
    app.router.add_get(r"/campaigns/{id:\d+}/next", next_lead_page)
    lead = r"/campaigns/{id:\d+}/leads/{lead_id:\d+}"
    app.router.add_post(lead + "/dial", dial_lead)
    app.router.add_post(lead + "/skip", skip_lead)
    app.router.add_get(lead + "/result", result_page)
    app.router.add_post(lead + "/result", save_result)
    app.router.add_post(lead + "/not-connected", report_not_connected)
