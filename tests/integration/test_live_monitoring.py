"""Listen, whisper, barge on the sandbox Asterisk: only the operator's own supervisor,
audited, and the supervisor's phone really joins the call through ChanSpy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami.sandbox import SandboxStatus, sandbox_cli
from ami.sandbox.sipp import Caller, Phone
from ami.telephony import AmiTelephony
from callcenter.models import AuditEntry, Team, User
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.cti_helpers import running_pipeline, until
from tests.integration.test_web import ClientFactory, sign_in
from web.app import create_app
from web.state import WebServices

pytestmark = [pytest.mark.asterisk, pytest.mark.db]
PASSWORD = "correct-horse"


@dataclass
class Floor:
    operator: User  # op101, team "Продажи"
    staff: dict[str, User]


async def _floor(db: async_sessionmaker[AsyncSession]) -> Floor:
    async with db() as session:
        sales, support = Team(name="Продажи"), Team(name="Поддержка")
        session.add_all([sales, support])
        await session.flush()
        people = {
            "op101": ("operator", "101", sales),
            "op102": ("operator", "102", sales),
            "boss": ("supervisor", "110", sales),
            "stranger": ("supervisor", "109", support),
            "admin": ("admin", None, None),
        }
        staff = {}
        for login, (role, ext, team) in people.items():
            user = await add_user(
                session,
                login=login,
                full_name=login,
                role=role,
                password=PASSWORD,
                extension=ext,
                device=f"PJSIP/op{ext}" if ext else None,
            )
            user.team_id = team.id if team else None
            staff[login] = user
        await session.commit()
    return Floor(staff["op101"], staff)


@pytest.fixture
async def signed_in(
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    asterisk_sandbox: SandboxStatus,
) -> AsyncIterator[Callable[[str], Any]]:
    async with running_pipeline(db, asterisk_sandbox.ami_port) as (_, link, _notifier):
        telephony = AmiTelephony(link, originate_context="dialer-outbound")

        async def client_for(login: str) -> TestClient[Any, Any]:
            app = create_app(WebServices(load_settings({}), db, telephony))
            client = await aiohttp_client(app)
            assert (await sign_in(client, login, PASSWORD)).status == 303
            return client

        yield client_for


def _spying_channels() -> list[list[str]]:
    lines = sandbox_cli("core show channels concise").splitlines()
    return [line.split("!") for line in lines if "!ChanSpy!" in line]


async def test_only_the_operator_s_own_supervisor_joins_the_call_and_it_is_audited(
    db: async_sessionmaker[AsyncSession],
    signed_in: Callable[[str], Any],
    operator_phone: Callable[..., Phone],
    sipp_caller: Callable[..., Caller],
) -> None:
    floor = await _floor(db)
    operator_phone("101", ring_ms=200)
    operator_phone("110", ring_ms=200)  # the supervisor's own phone
    sipp_caller(did="101", cidnum="84951234567", cidname="Ivan", hold_ms=30_000)
    url = f"/api/v1/operators/{floor.operator.id}/spy"
    boss = await signed_in("boss")

    def operator_talking() -> bool:
        lines = sandbox_cli("core show channels concise").splitlines()
        return any(line.startswith("PJSIP/op101-") and "!Up!" in line for line in lines)

    await until(operator_talking, 20, "op101 talking")

    # an operator, an admin and the supervisor of another team are refused
    for login, status in (("op102", 403), ("admin", 403), ("stranger", 403)):
        other = await signed_in(login)
        response = await other.post(url, json={"mode": "listen"})
        assert response.status == status, login
    response = await boss.post(url, json={"mode": "record"})
    assert response.status == 400
    assert _spying_channels() == []

    response = await boss.post(url, json={"mode": "whisper"})
    assert response.status == 202, await response.text()
    await until(lambda: bool(_spying_channels()), 15, "the supervisor's ChanSpy")
    (spy,) = _spying_channels()
    # channel!context!exten!priority!state!application!data!...
    assert spy[0].startswith("PJSIP/op110-")
    assert (spy[1], spy[2], spy[5], spy[6]) == (
        "supervisor-spy",
        "whisper",
        "ChanSpy",
        "PJSIP/op101-,qwES",
    )
    async with db() as session:
        entries = list(
            await session.execute(
                select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.entity_id).where(
                    AuditEntry.action.like("call.%")
                )
            )
        )
    assert entries == [(floor.staff["boss"].id, "call.whisper", str(floor.operator.id))]
