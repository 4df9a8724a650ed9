"""Shared set-up for the admin, profile and role tests: one user of each role, signed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import auth
from callcenter.models import User
from callcenter.settings import load_settings
from callcenter.users import add_user
from dialer.desk import Desk
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.campaign_pages import DIALER_DESK
from web.hub import Hub
from web.state import WebServices

ROLES = ("operator", "supervisor", "manager", "admin")
PASSWORD = "correct-horse"

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@dataclass
class Staff:
    """A user of each role (login = role name) and a live session token of each."""

    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def cookie(self, role: str | None) -> dict[str, str]:
        return {"Cookie": f"cc_session={self.tokens[role]}"} if role else {}


async def make_staff(db: async_sessionmaker[AsyncSession]) -> Staff:
    staff = Staff()
    async with db() as session:
        for role in ROLES:
            staff.users[role] = await add_user(
                session, login=role, full_name=f"Test {role}", role=role, password=PASSWORD
            )
        await session.commit()
    for role in ROLES:
        staff.tokens[role] = await sign_in_token(db, role)
    return staff


async def sign_in_token(
    db: async_sessionmaker[AsyncSession], login: str, password: str = PASSWORD
) -> str:
    async with db() as session:
        signed_in = await auth.sign_in(session, login, password)
        assert signed_in is not None, login
        await session.commit()
    return signed_in.token


async def web_client(
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    hub: Hub | None = None,
) -> TestClient[Any, Any]:

    services = WebServices(load_settings({}), db, unconnected_telephony())
    app = create_app(services, hub)
    app[DIALER_DESK] = Desk()  # as callcenter.app.runtime wires it
    return await aiohttp_client(app)


async def sign_in(client: TestClient[Any, Any], login: str, password: str = PASSWORD) -> Any:
    """Through the login form, so the client's cookie jar holds the session."""
    return await client.post(
        "/login", data={"login": login, "password": password}, allow_redirects=False
    )
