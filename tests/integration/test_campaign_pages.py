"""Campaign pages, the campaigns API and the operator's preview pages over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import (
    CallAttempt,
    Campaign,
    CampaignOperator,
    Contact,
    ContactPhone,
    DoNotCall,
    Lead,
    LeadStatus,
    Segment,
    User,
)
from callcenter.settings import load_settings
from callcenter.users import add_user
from dialer import preview
from dialer.desk import Desk
from tests.integration.test_import_pages import sign_in
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.campaign_pages import DIALER_DESK
from web.state import WebServices

pytestmark = pytest.mark.db

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
Login = Callable[[str], Awaitable[TestClient[Any, Any]]]
# offsets spread round the clock: one of them is always well inside 09:00-21:00
_ZONES = (
    "Europe/Moscow",
    "Asia/Novosibirsk",
    "Asia/Vladivostok",
    "Asia/Kamchatka",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Pacific/Honolulu",
    "Asia/Kolkata",
)


def daytime_zone() -> str:
    """A time zone where it is now between 10:00 and 19:00: calls may go there."""
    now = datetime.now(UTC)
    return next(z for z in _ZONES if 10 <= now.astimezone(ZoneInfo(z)).hour < 19)


@pytest.fixture
async def login(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory, tmp_path: Path
) -> Login:
    async with db() as session:
        for name, role in (("boss", "manager"), ("super", "supervisor")):
            await add_user(session, login=name, full_name=name, role=role, password="correct-horse")
        for name, ext in (("anna", "101"), ("boris", "102")):
            await add_user(
                session,
                login=name,
                full_name=name.capitalize(),
                role="operator",
                password="correct-horse",
                extension=ext,
                device=f"PJSIP/op{ext}",
            )
        await session.commit()

    async def signed_in(name: str) -> TestClient[Any, Any]:
        settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path / "data")})
        app = create_app(WebServices(settings, db, unconnected_telephony()))
        app[DIALER_DESK] = Desk()
        client = await aiohttp_client(app)
        await sign_in(client, name)
        return client

    return signed_in


async def _user(db: async_sessionmaker[AsyncSession], login: str) -> User:
    async with db() as session:
        user = await session.scalar(select(User).where(User.login == login))
        assert user is not None
        return user


FORM = {
    "name": "Обзвон <весна>",
    "mode": "preview",
    "caller_id": "+74950000000",
    "script": "Здравствуйте, {first_name}! Звонит {operator} из «Ромашки». {custom.x.__class__}",
    "max_attempts": "3",
    "target_abandon_percent": "3",
    "abandon_window": "24h",
    "lines_per_operator": "1",
    "retry_busy": "15",
    "window_mon_from": "09:00",
    "window_mon_to": "20:00",
}


async def test_roles_of_the_campaign_pages(login: Login) -> None:
    operator = await login("anna")
    assert (await operator.get("/campaigns")).status == 403
    assert (await operator.post("/campaigns/new", data=FORM)).status == 403
    supervisor = await login("super")
    assert (await supervisor.get("/campaigns")).status == 200
    assert (await supervisor.get("/campaigns/new")).status == 403
    refused = await supervisor.post("/api/v1/campaigns", json={"name": "x"})
    assert refused.status == 403


async def test_a_manager_creates_and_edits_a_campaign_through_the_form(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    anna = await _user(db, "anna")
    boss = await login("boss")
    bad = await boss.post(
        "/campaigns/new",
        data={**FORM, "caller_id": "74950\r\n0000", "retry_no_answer": "soon", "name": ""},
    )
    assert bad.status == 400
    text = await bad.text()
    assert "Только цифры, можно с + в начале." in text
    assert "Минуты, целое число." in text
    assert 'data-testid="error-name"' in text
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0

    created = await boss.post(
        "/campaigns/new", data={**FORM, "operator_ids": str(anna.id)}, allow_redirects=False
    )
    assert created.status == 303
    page = await boss.get(created.headers["Location"])
    body = await page.text()
    assert "Обзвон &lt;весна&gt;" in body  # escaped, never markup
    assert "Черновик" in body and 'data-testid="campaign-start"' in body
    async with db() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None
        assert campaign.retry_delays == {"busy": 900}
        assert campaign.calling_windows == {"mon": [["09:00", "20:00"]]}
        campaign_id = campaign.id

    edit = await boss.get(f"/campaigns/{campaign_id}/edit")
    assert 'value="15"' in await edit.text()  # the busy delay shown again in minutes
    saved = await boss.post(
        f"/campaigns/{campaign_id}/edit",
        data={**FORM, "name": "Осень", "max_attempts": "5"},
        allow_redirects=False,
    )
    assert saved.status == 303
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.name, campaign.max_attempts) == ("Осень", 5)
        # the form that no longer ticks Anna takes her off the campaign
        assert await session.get(CampaignOperator, (campaign_id, anna.id)) is None


async def test_the_api_creates_patches_and_refuses_bad_input_keeping_what_is_stored(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    boss = await login("boss")
    bad = await boss.post("/api/v1/campaigns", json={"name": "X", "max_lines": 0, "mode": "?"})
    assert bad.status == 400
    problem = await bad.json()
    assert set(problem["fields"]) == {"max_lines", "mode"} and problem["error"]
    created = await boss.post(
        "/api/v1/campaigns", json={"name": "API", "calling_windows": {"sat": [["10:00", "14:00"]]}}
    )
    assert created.status == 201
    campaign = await created.json()
    assert campaign["status"] == "draft" and campaign["max_attempts"] == 3

    url = f"/api/v1/campaigns/{campaign['id']}"
    refused = await boss.patch(url, json={"max_attempts": 99, "caller_id": "1\n2"})
    assert refused.status == 400
    assert set((await refused.json())["fields"]) == {"max_attempts", "caller_id"}
    patched = await boss.patch(url, json={"max_attempts": 7})
    assert patched.status == 200
    after = await patched.json()
    assert after["max_attempts"] == 7
    assert after["calling_windows"] == {"sat": [["10:00", "14:00"]]}  # untouched
    progress = await (await boss.get(url + "/progress")).json()
    assert progress["status"] == "draft" and progress["leads_left"] == 0


async def test_start_pause_and_stop_go_through_the_dialer(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    boss = await login("boss")
    created = await (await boss.post("/api/v1/campaigns", json={"name": "Пуск"})).json()
    page = f"/campaigns/{created['id']}"
    for action, status in (("start", "running"), ("pause", "paused"), ("stop", "stopped")):
        response = await boss.post(f"{page}/{action}", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == page
        async with db() as session:
            campaign = await session.get(Campaign, created["id"])
            assert campaign is not None and campaign.status == status
    # a stopped campaign cannot be resumed: refused, and the status stays
    again = await boss.post(f"/api/v1/campaigns/{created['id']}/resume")
    assert again.status == 409 and "cannot resume" in (await again.json())["error"]
    page_refusal = await boss.post(f"{page}/resume", allow_redirects=False)
    assert page_refusal.headers["Location"] == f"{page}?problem=resume"
    assert "Набор отказал" in await (await boss.get(page_refusal.headers["Location"])).text()


async def _running_preview(db: async_sessionmaker[AsyncSession], *, leads: int = 2) -> int:
    zone = daytime_zone()
    async with db() as session:
        anna = await session.scalar(select(User).where(User.login == "anna"))
        assert anna is not None
        campaign = Campaign(
            name="Предпросмотр",
            mode="preview",
            status="running",
            is_advertising=False,
            script="Добрый день, {first_name} {last_name}! Компания {company}?",
        )
        session.add(campaign)
        await session.flush()
        session.add(CampaignOperator(campaign_id=campaign.id, user_id=anna.id))
        for n in range(leads):
            client = Contact(first_name=f"Пётр{n}", last_name="<b>Иванов</b>", time_zone=zone)
            session.add(client)
            await session.flush()
            e164 = f"+7495800000{n}"
            session.add(ContactPhone(contact_id=client.id, raw=e164, e164=e164))
            session.add(
                Lead(
                    campaign_id=campaign.id,
                    contact_id=client.id,
                    phone_raw=e164,
                    phone_e164=e164,
                    time_zone=zone,
                )
            )
        await session.commit()
        return campaign.id


async def test_only_assigned_operators_get_leads(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    campaign_id = await _running_preview(db)
    boris = await login("boris")
    assert (await boris.get(f"/campaigns/{campaign_id}/next")).status == 403
    assert "Предпросмотр" not in await (await boris.get("/work")).text()
    anna = await login("anna")
    assert "Предпросмотр" in await (await anna.get("/work")).text()


async def test_the_preview_shows_the_card_and_the_script_then_skip_moves_on(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    campaign_id = await _running_preview(db)
    anna = await login("anna")
    page = await anna.get(f"/campaigns/{campaign_id}/next")
    assert page.status == 200
    body = await page.text()
    assert "Добрый день, Пётр0 &lt;b&gt;Иванов&lt;/b&gt;! Компания {company}?" in body
    assert "+74958000000" in body
    async with db() as session:
        first = await session.scalar(select(Lead).where(Lead.locked_by.is_not(None)))
        assert first is not None and first.phone_e164 == "+74958000000"
        lead_id = first.id

    # Dial with the PBX out of reach: said plainly, and nothing was dialled
    dial = await anna.post(f"/campaigns/{campaign_id}/leads/{lead_id}/dial")
    assert dial.status == 409
    assert "Телефония недоступна" in await dial.text()
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(CallAttempt)) == 0

    empty = await anna.post(f"/campaigns/{campaign_id}/leads/{lead_id}/skip", data={"reason": ""})
    assert empty.status == 400
    skipped = await anna.post(
        f"/campaigns/{campaign_id}/leads/{lead_id}/skip",
        data={"reason": "Клиент в отпуске"},
        allow_redirects=False,
    )
    assert skipped.status == 303
    following = await (await anna.get(f"/campaigns/{campaign_id}/next")).text()
    assert "+74958000001" in following and "+74958000000" not in following


async def test_the_disposition_form_saves_the_result(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    campaign_id = await _running_preview(db, leads=3)
    anna_user = await _user(db, "anna")
    anna = await login("anna")
    boss = await login("boss")

    async def dialled() -> int:
        """The next lead, dialled as the Dial button does up to the Originate."""
        await anna.get(f"/campaigns/{campaign_id}/next")
        async with db() as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            lead = await preview.held_lead(session, campaign_id, anna_user)
            assert lead is not None
            attempt = await preview.prepare_dial(
                session, lead, campaign, anna_user, datetime.now(UTC)
            )
            assert isinstance(attempt, CallAttempt)
            await session.commit()
            return lead.id

    lead_id = await dialled()
    result_url = f"/campaigns/{campaign_id}/leads/{lead_id}/result"
    # a reload of the preview while the call is on leads to the result form
    again = await anna.get(f"/campaigns/{campaign_id}/next", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == result_url
    assert (await boss.get(result_url)).status == 403  # not assigned, did not dial
    form = await (await anna.get(result_url)).text()
    assert 'data-testid="disposition-sale"' in form
    async with db() as session:
        ids = dict(
            (
                await session.execute(
                    select(Lead.id, Lead.status).where(Lead.campaign_id == campaign_id)
                )
            ).all()
        )
        assert ids[lead_id] == LeadStatus.IN_PROGRESS
        from callcenter.models import Disposition

        codes = {d.code: d.id for d in await session.scalars(select(Disposition))}

    past = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    refused = await anna.post(
        result_url, data={"disposition_id": str(codes["callback"]), "callback_at": past}
    )
    assert refused.status == 400
    assert "Выберите время перезвона в будущем." in await refused.text()
    saved = await anna.post(
        result_url, data={"disposition_id": str(codes["sale"])}, allow_redirects=False
    )
    assert saved.status == 303
    async with db() as session:
        lead = await session.get(Lead, lead_id)
        attempt = await session.scalar(select(CallAttempt).where(CallAttempt.lead_id == lead_id))
        assert lead is not None and attempt is not None
        assert (lead.status, lead.last_result, lead.locked_by) == ("done", "sale", None)
        assert attempt.outcome == "answered" and attempt.ended_at is not None

    dnc_lead = await dialled()
    dnc = await anna.post(
        f"/campaigns/{campaign_id}/leads/{dnc_lead}/result",
        data={"disposition_id": str(codes["do_not_call"])},
        allow_redirects=False,
    )
    assert dnc.status == 303
    async with db() as session:
        lead = await session.get(Lead, dnc_lead)
        assert lead is not None and lead.status == "dnc"
        assert await session.scalar(select(DoNotCall).where(DoNotCall.e164 == lead.phone_e164))

    busy_lead = await dialled()
    busy = await anna.post(
        f"/campaigns/{campaign_id}/leads/{busy_lead}/not-connected",
        data={"outcome": "busy"},
        allow_redirects=False,
    )
    assert busy.status == 303
    async with db() as session:
        lead = await session.get(Lead, busy_lead)
        assert lead is not None
        assert (lead.status, lead.last_result, lead.attempts) == ("new", "busy", 1)
        assert lead.next_attempt_at is not None


async def test_a_segment_fills_the_dial_list_from_the_campaign_page(
    db: async_sessionmaker[AsyncSession], login: Login
) -> None:
    async with db() as session:
        for n in range(3):
            client = Contact(display_name=f"VIP {n}", tags=["vip"])
            session.add(client)
            await session.flush()
            e164 = f"+7495900000{n}"
            session.add(ContactPhone(contact_id=client.id, raw=e164, e164=e164))
        segment = Segment(name="VIP", filters={"tags": ["vip"]})
        campaign = Campaign(name="Для VIP")
        session.add_all([segment, campaign])
        await session.commit()
        segment_id, campaign_id = segment.id, campaign.id
    boss = await login("boss")
    added = await boss.post(
        f"/campaigns/{campaign_id}/dial-list", data={"segment_id": str(segment_id)}
    )
    assert added.status == 200
    body = await added.text()
    assert 'data-testid="dial-list-outcome"' in body
    async with db() as session:
        count = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.campaign_id == campaign_id)
        )
        assert count == 3
