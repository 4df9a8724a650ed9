"""Hostile values in every field that can reach an AMI action (issue 7, item 7).

CR, LF, NUL and ``Action:`` payloads in click-to-dial numbers, pause reasons,
phone devices, campaign caller IDs and the clients and leads a call is placed
for, sent through the product's own web routes to a real AmiLink. What the link
writes is read off a loopback TCP socket (``FakeAmi``, tests/unit/test_link.py:
a fake that speaks enough AMI, since the sandbox Asterisk belongs to other
tests): every action on the wire has exactly one terminator and one Action
line, and a hostile value is either refused with a clear 4xx or sent as typed
on its own single line.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.link import AmiLink
from ami.telephony import AmiTelephony
from callcenter.models import CallAttempt, Campaign, CampaignOperator, Contact, Lead, Team, User
from callcenter.settings import load_settings
from callcenter.users import UserError, add_user
from dialer.desk import Desk
from dialer.engine import DialerEngine
from dialer.floor import DIALER_QUEUE
from tests.integration.test_campaign_pages import daytime_zone
from tests.integration.test_web import ClientFactory, sign_in
from tests.unit.test_link import FakeAmi, eventually
from web.app import create_app
from web.campaign_pages import DIALER_DESK
from web.state import WebServices

pytestmark = pytest.mark.db
PASSWORD = "correct-horse"
END = b"\r\n\r\n"
INJECTIONS = [
    "\r\nAction: Command\r\nCommand: core stop now",
    "x\nAction: Hangup",
    "x\rAction: Hangup",
    "x\r\n\r\nAction: Originate\r\nChannel: PJSIP/evil",
    "nul\0byte",
    "\r\n",
]
Login = Callable[[str], Awaitable[TestClient[Any, Any]]]


def actions_on(wire: bytes) -> list[dict[str, str]]:
    """The actions the link wrote, each checked to be exactly one well-formed action."""
    assert wire.endswith(END)
    blocks = wire[: -len(END)].split(END)
    assert len(blocks) == wire.count(END)  # one terminator per action, no more
    actions = []
    for block in blocks:
        lines = block.split(b"\r\n")
        assert lines[0].startswith(b"Action: "), block
        fields: dict[str, str] = {}
        for line in lines:
            assert not any(c in line for c in b"\r\n\0"), block
            key, sep, value = line.decode("utf-8").partition(": ")
            assert sep, block
            assert key.lower() != "action" or line is lines[0], block  # one Action line
            fields[key] = f"{fields[key]};{value}" if key in fields else value
        actions.append(fields)
    return actions


def sent(ami: FakeAmi, name: str) -> list[dict[str, str]]:
    return [a for a in actions_on(bytes(ami.wire)) if a["Action"].lower() == name.lower()]


def hostile_texts(count: int, seed: int = 7) -> list[str]:
    """Reasons and names glued from the pieces that break AMI, queue_log or CallerID."""
    pieces = [
        "\r", "\n", "\0", "\r\n", "Action: Command", "Command: core stop now", "Обед", " ",
        "|", "<", ">", '"', "\\", "\t", "\u2028", "\x85", "\ufeff", "\x7f", ":", "a", ";", ",",
    ]  # fmt: skip
    rng = random.Random(seed)
    glued = ["".join(rng.choices(pieces, k=rng.randint(1, 6))) for _ in range(count)]
    return [*glued, *INJECTIONS, "Обед", " Обед ", "Обед: с 13:00, кофе; чай"]


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as server:
        yield server


@pytest.fixture
async def link(ami: FakeAmi) -> AsyncIterator[AmiLink]:
    link = ami.link(ping_interval=30)
    await link.start()
    try:
        await link.wait_connected(5)
        await eventually(lambda: link.resyncs == 1 or ami.count("CoreShowChannels") > 0)
        yield link
    finally:
        await link.stop()


@pytest.fixture
async def login(
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    link: AmiLink,
    tmp_path: Path,
) -> Login:
    async with db() as session:
        team = Team(name="Продажи")
        session.add(team)
        await session.flush()
        for name, role, ext in (
            ("anna", "operator", "101"),
            ("boss", "supervisor", "110"),
            ("chief", "manager", None),
            ("root", "admin", None),
        ):
            user = await add_user(
                session,
                login=name,
                full_name=name.capitalize(),
                role=role,
                password=PASSWORD,
                extension=ext,
                device=f"PJSIP/op{ext}" if ext else None,
            )
            user.team_id = team.id
        await session.commit()
    telephony = AmiTelephony(link, originate_context="operators")
    settings = load_settings({"CALLCENTER_DATA_DIR": str(tmp_path / "data")})

    async def signed_in(name: str) -> TestClient[Any, Any]:
        app = create_app(WebServices(settings, db, telephony))
        app[DIALER_DESK] = Desk()
        client = await aiohttp_client(app)
        assert (await sign_in(client, name, PASSWORD)).status == 303
        return client

    return signed_in


async def test_click_to_dial_refuses_hostile_numbers_and_sends_one_clean_originate(
    ami: FakeAmi, login: Login
) -> None:
    anna = await login("anna")
    for number in [*INJECTIONS, *(f"8 495 123-45-67{bad}" for bad in INJECTIONS[:-1])]:
        response = await anna.post("/api/v1/dial", json={"number": number})
        assert response.status == 400, (number, await response.text())
        assert (await response.json())["error"]  # "not a phone number", or the NUL said
    assert sent(ami, "Originate") == []

    # spaces and line ends around a number are how people paste it: trimmed, then dialled
    for number in ("+7 (495) 123-45-67", "8 495 123-45-67\r\n"):
        response = await anna.post("/api/v1/dial", json={"number": number})
        assert response.status == 202
        assert (await response.json())["number"] == "+74951234567"
    await eventually(lambda: len(sent(ami, "Originate")) == 2)
    for originate in sent(ami, "Originate"):
        assert originate["Channel"] == "PJSIP/op101" and originate["Exten"] == "84951234567"
        assert originate["Context"] == "operators"
        assert "CallerID" not in originate  # the client's name is not sent as a caller ID


async def test_a_pause_reason_is_refused_or_sent_exactly_as_typed_on_one_line(
    ami: FakeAmi, login: Login
) -> None:
    anna = await login("anna")
    accepted = []
    for reason in hostile_texts(150):
        response = await anna.post(
            "/api/v1/agent/state", json={"state": "paused", "reason": reason}
        )
        assert response.status in (200, 400), (reason, response.status, await response.text())
        if response.status == 200:
            accepted.append((await response.json())["reason"])
        else:
            assert (await response.json())["error"]
    assert "Обед" in accepted  # a plain reason still goes
    await eventually(lambda: len(sent(ami, "QueuePause")) == len(accepted))
    pauses = sent(ami, "QueuePause")
    assert [p.get("Reason", "") for p in pauses] == accepted
    assert {p["Interface"] for p in pauses} == {"PJSIP/op101"}
    assert all(p["Paused"] == "true" for p in pauses)


async def test_a_hostile_phone_device_never_reaches_the_wire(
    db: async_sessionmaker[AsyncSession], ami: FakeAmi, login: Login
) -> None:
    admin = await login("root")
    async with db() as session:
        anna = await session.scalar(select(User).where(User.login == "anna"))
        assert anna is not None
        operator_id = anna.id
        # the account functions refuse it (a trailing newline too); the database as well
        for device in ["PJSIP/op102\n", "PJSIP/op102\r\nAction: Command", "PJSIP/op 102"]:
            with pytest.raises(UserError):
                await add_user(
                    session, login="x", full_name="X", role="operator", password=PASSWORD,
                    device=device,
                )  # fmt: skip
    for device in ["PJSIP/op105\r\nAction: Command", "PJSIP/op105\nX", "PJSIP/op105\0"]:
        refused = await admin.post(
            f"/admin/users/{operator_id}",
            data={"full_name": "Anna", "role": "operator", "language": "ru", "interface": device},
        )
        assert refused.status == 400, (device, refused.status)
    async with db() as session:
        anna = await session.get(User, operator_id)
        assert anna is not None and anna.interface == "PJSIP/op101"
        # one the forms and the database take but AMI does not: refused clearly, not a 500
        anna.interface = "PJSIP/op101@pbx:5060"
        await session.commit()
    boss = await login("boss")
    spy = await boss.post(f"/api/v1/operators/{operator_id}/spy", json={"mode": "listen"})
    assert spy.status == 409, await spy.text()
    operator = await login("anna")
    for path, body in (
        ("/api/v1/dial", {"number": "+74951234567"}),
        ("/api/v1/agent/state", {"state": "paused", "reason": "Обед"}),
    ):
        answer = await operator.post(path, json=body)
        assert answer.status == 409, (path, answer.status, await answer.text())
        assert "endpoint" in (await answer.json())["error"]
    names = [a["Action"] for a in actions_on(bytes(ami.wire))]
    assert not {"Originate", "QueuePause", "Command"} & set(names), names


async def test_a_preview_call_to_a_hostile_lead_sends_one_clean_originate(
    db: async_sessionmaker[AsyncSession], ami: FakeAmi, login: Login
) -> None:
    chief = await login("chief")
    for bad in [*INJECTIONS[:-1], *(f"+74950000000{bad}" for bad in INJECTIONS[:-1])]:
        refused = await chief.post("/api/v1/campaigns", json={"name": "Обзвон", "caller_id": bad})
        assert refused.status == 400, repr(bad)
    # a caller ID of nothing but a line end is no caller ID: trimmed to none
    blank = await chief.post("/api/v1/campaigns", json={"name": "Обзвон", "caller_id": "\r\n"})
    assert blank.status == 201 and (await blank.json())["caller_id"] in ("", None)
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 1
    created = await chief.post(
        "/api/v1/campaigns",
        json={"name": "Обзвон\r\nAction: Command", "mode": "preview", "caller_id": "+74950000000"},
    )
    assert created.status == 201, await created.text()
    campaign_id = (await created.json())["id"]
    zone = daytime_zone()
    async with db() as session:
        anna = await session.scalar(select(User).where(User.login == "anna"))
        assert anna is not None
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status = "running"
        session.add(CampaignOperator(campaign_id=campaign_id, user_id=anna.id))
        client = Contact(
            first_name="Пётр\r\nAction: Command",
            last_name="=cmd|' /C calc'!A0",
            time_zone=zone,
        )
        session.add(client)
        await session.flush()
        client_id = client.id
        await session.commit()

    async def add_lead(n: int) -> None:
        async with db() as session:
            session.add(
                Lead(
                    campaign_id=campaign_id,
                    contact_id=client_id,
                    phone_raw=f"+7 495 800-00-0{n}\r\nAction: Hangup",
                    phone_e164=f"+7495800000{n}",
                    time_zone=zone,
                )
            )
            await session.commit()

    await add_lead(1)
    operator = await login("anna")

    async def shown_lead() -> Lead:
        assert (await operator.get(f"/campaigns/{campaign_id}/next")).status == 200
        async with db() as session:
            lead = await session.scalar(select(Lead).where(Lead.locked_by.is_not(None)))
            assert lead is not None
            return lead

    # an advertising campaign (the default) and no consent: refused in words, nothing sent,
    # though no lead is left to show
    first = await shown_lead()
    held = await operator.post(f"/campaigns/{campaign_id}/leads/{first.id}/dial")
    assert held.status == 409, await held.text()
    assert "Клиент не давал согласия" in await held.text()
    assert sent(ami, "Originate") == []
    async with db() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.is_advertising = False
        await session.commit()
    await add_lead(2)

    # a phone device the forms take but AMI does not: refused in words, the attempt settled
    async with db() as session:
        anna = await session.scalar(select(User).where(User.login == "anna"))
        assert anna is not None
        anna.interface = "PJSIP/op101@pbx:5060"
        await session.commit()
    second = await shown_lead()
    refused = await operator.post(f"/campaigns/{campaign_id}/leads/{second.id}/dial")
    assert refused.status == 409, await refused.text()
    async with db() as session:
        outcomes = (
            await session.scalars(
                select(CallAttempt.outcome).where(CallAttempt.lead_id == second.id)
            )
        ).all()
        assert outcomes == ["failed"]
        anna = await session.scalar(select(User).where(User.login == "anna"))
        assert anna is not None
        anna.interface = "PJSIP/op101"
        await session.commit()
    assert sent(ami, "Originate") == []

    await add_lead(3)
    lead = await shown_lead()
    dialled = await operator.post(
        f"/campaigns/{campaign_id}/leads/{lead.id}/dial", allow_redirects=False
    )
    assert dialled.status == 303, await dialled.text()
    await eventually(lambda: bool(sent(ami, "Originate")))
    [originate] = sent(ami, "Originate")
    assert originate["Channel"] == "PJSIP/op101"
    assert originate["Exten"] == "8" + lead.phone_e164[2:]
    assert originate["CallerID"] == "+74950000000"
    variables = dict(v.split("=", 1) for v in originate["Variable"].split(";"))
    assert variables["__CALLCENTER_LEAD"] == str(lead.id)
    assert all(value.replace("-", "").isalnum() for value in variables.values())
    async with db() as session:
        attempts = (await session.scalars(select(CallAttempt).order_by(CallAttempt.id))).all()
        assert [a.lead_id for a in attempts] == [second.id, lead.id]
    # nothing of the client's or the lead's own text went into the action
    assert b"Command" not in ami.wire and "Пётр".encode() not in ami.wire

    # Dial pressed again while the first is dialling: where the first went, nothing resent
    again = await operator.post(
        f"/campaigns/{campaign_id}/leads/{lead.id}/dial", allow_redirects=False
    )
    assert again.status == 303, await again.text()
    assert again.headers["Location"] == dialled.headers["Location"]
    assert len(sent(ami, "Originate")) == 1


async def test_the_dialer_engine_sends_one_clean_originate_for_a_hostile_lead(
    db: async_sessionmaker[AsyncSession], ami: FakeAmi, link: AmiLink
) -> None:
    zone = daytime_zone()
    async with db() as session:
        operator = await add_user(
            session, login="op106", full_name="Оператор\r\nAction: Command", role="operator",
            password=PASSWORD, extension="106", device="PJSIP/op106",
        )  # fmt: skip
        campaign = Campaign(
            name="Обзвон\r\nAction: Command",
            mode="progressive",
            status="running",
            is_advertising=False,
            max_attempts=1,
            caller_id="+74950000000",
        )
        session.add(campaign)
        await session.flush()
        session.add(CampaignOperator(campaign_id=campaign.id, user_id=operator.id))
        client = Contact(first_name="Пётр\r\nAction: Hangup", last_name="=cmd|' /C calc'!A0")
        session.add(client)
        await session.flush()
        session.add(
            Lead(
                campaign_id=campaign.id,
                contact_id=client.id,
                phone_raw="+7 495 100-00-01\r\nAction: Command\r\nCommand: core stop now",
                phone_e164="+74951000001",
                time_zone=zone,
            )
        )
        await session.commit()
        campaign_id = campaign.id
    # the operator's phone is in the dialer queue for this campaign, ready
    member = {"Queue": DIALER_QUEUE, "StateInterface": "PJSIP/op106", "Name": "op106"}
    member |= {"Penalty": str(campaign_id), "Paused": "0", "Status": "1", "InCall": "0"}
    ami.members = [list(member.items())]
    engine = DialerEngine(
        db, AmiTelephony(link, originate_context="operators"), ring_seconds=15, tick_seconds=0.2
    )
    task = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: bool(sent(ami, "Originate")), timeout=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [originate] = sent(ami, "Originate")
    assert originate["Channel"] == "PJSIP/74951000001@trunk"
    assert originate["Exten"] == "74951000001" and originate["CallerID"] == "+74950000000"
    assert originate["Context"] == "dialer-auto"
    for variable in originate["Variable"].split(";"):
        name, _, value = variable.partition("=")
        assert name.lstrip("_").startswith("CALLCENTER_"), variable
        assert value.replace("-", "").replace("/", "").isalnum(), variable
    assert b"Command" not in ami.wire and "Пётр".encode() not in ami.wire
