"""Login backoff through the login form, on a hand-driven clock (no test sleeps):
repeated failures for one login, or from one address, make the next tries wait."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.login_throttle import LoginThrottle
from callcenter.settings import load_settings
from callcenter.users import add_user
from tests.integration.staff_helpers import ClientFactory
from tests.integration.test_web import unconnected_telephony
from web.app import create_app
from web.pages import LOGIN_THROTTLE
from web.state import WebServices

pytestmark = pytest.mark.db

PASSWORD = "correct-horse"
TOO_MANY = "Слишком много попыток входа, попробуйте через {} с"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def throttled_client(
    db: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    clock: Clock,
    environ: dict[str, str] | None = None,
) -> TestClient[Any, Any]:
    async with db() as session:
        await add_user(
            session, login="ivanova", full_name="Мария Иванова", role="operator", password=PASSWORD
        )
        await session.commit()
    services = WebServices(load_settings(environ or {}), db, unconnected_telephony())
    app = create_app(services)
    app[LOGIN_THROTTLE] = LoginThrottle(clock)
    return await aiohttp_client(app)


# the test client connects from 127.0.0.1: as a trusted proxy, X-Forwarded-For names the
# browser, so one test can be many addresses
BEHIND_PROXY = {"CALLCENTER_TRUSTED_PROXIES": "127.0.0.1"}


async def try_login(
    client: TestClient[Any, Any],
    login: str,
    password: str,
    address: str | None = None,
    query: str = "",
) -> tuple[int, str, str, bool]:
    """Status, the page's error line, Retry-After, and whether a session cookie came."""
    headers = {"X-Forwarded-For": address} if address else {}
    async with client.post(
        "/login" + query,
        data={"login": login, "password": password},
        headers=headers,
        allow_redirects=False,
    ) as response:
        text = await response.text()
        error = re.search(r'<p class="error" role="alert">([^<]*)</p>', text)
        return (
            response.status,
            error.group(1) if error else "",
            response.headers.get("Retry-After", ""),
            "cc_session" in response.cookies,
        )


async def test_five_failures_then_waits_that_double_and_even_the_right_password_waits(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    clock = Clock()
    client = await throttled_client(db, aiohttp_client, clock)
    for _ in range(5):
        status, error, _retry, _cookie = await try_login(client, "ivanova", "wrong-password")
        assert (status, error) == (401, "Неверный логин или пароль.")

    status, error, retry, cookie = await try_login(client, "ivanova", PASSWORD)
    assert (status, retry, cookie) == (429, "1", False)  # the right password is not checked
    assert error == TOO_MANY.format(1) + "."

    clock.now += 1
    assert (await try_login(client, "ivanova", "wrong-password"))[0] == 401
    status, error, retry, _cookie = await try_login(client, "ivanova", "wrong-password")
    assert (status, retry) == (429, "2")
    assert TOO_MANY.format(2) in error
    clock.now += 2
    assert (await try_login(client, "ivanova", "wrong-password"))[0] == 401
    assert (await try_login(client, "ivanova", PASSWORD))[2] == "4"

    # the wait over, the right password signs in and the login's count starts afresh
    clock.now += 4
    status, _error, _retry, cookie = await try_login(client, "ivanova", PASSWORD)
    assert (status, cookie) == (303, True)
    client.session.cookie_jar.clear()
    statuses = [(await try_login(client, "IVANOVA", "wrong"))[0] for _ in range(6)]
    assert statuses == [401] * 5 + [429]  # any spelling of the login is the same login


async def test_an_unknown_login_gets_exactly_the_same_answers(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    """The backoff does not tell which logins exist: same statuses, waits and messages."""
    clock = Clock()
    client = await throttled_client(db, aiohttp_client, clock, BEHIND_PROXY)

    async def answers(login: str, address: str) -> list[tuple[int, str, str, bool]]:
        seen = []
        for _ in range(8):
            seen.append(await try_login(client, login, "wrong-password", address))
            if seen[-1][0] == 429:
                clock.now += int(seen[-1][2])
        return seen

    known = await answers("ivanova", "198.51.100.1")
    unknown = await answers("no-such-user", "198.51.100.2")
    assert known == unknown
    assert [status for status, *_ in known] == [401] * 5 + [429, 401, 429]


async def test_one_address_spraying_many_logins_is_held_up(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    clock = Clock()
    client = await throttled_client(db, aiohttp_client, clock, BEHIND_PROXY)
    for n in range(20):  # one guess at each of twenty logins
        assert (await try_login(client, f"user{n}", "123456", "203.0.113.9"))[0] == 401
    status, error, retry, _cookie = await try_login(client, "ivanova", PASSWORD, "203.0.113.9")
    assert (status, retry) == (429, "1")
    assert TOO_MANY.format(1) in error
    # an operator at another address is not held up by it
    status, *_ = await try_login(client, "ivanova", PASSWORD, "198.51.100.20")
    assert status == 303


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_split_the_count(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    """Without CALLCENTER_TRUSTED_PROXIES anyone could send the header: a guesser naming a
    new address in each request is still one address."""
    clock = Clock()
    client = await throttled_client(db, aiohttp_client, clock)
    for n in range(20):
        assert (await try_login(client, f"user{n}", "123456", f"192.0.2.{n}"))[0] == 401
    assert (await try_login(client, "user99", "123456", "192.0.2.99"))[0] == 429


async def test_the_wait_is_told_in_english_to_english_readers(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    client = await throttled_client(db, aiohttp_client, Clock())
    for _ in range(5):
        await try_login(client, "ivanova", "wrong")
    status, error, _retry, _cookie = await try_login(client, "ivanova", "wrong", query="?lang=en")
    assert (status, error) == (429, "Too many sign-in attempts; try again in 1 s.")
