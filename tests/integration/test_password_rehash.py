"""A password hash made with weaker argon2 parameters than today's is replaced at the
user's next successful sign-in, through the login form (the password is known then)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import User
from callcenter.passwords import verify_password
from tests.integration.staff_helpers import ClientFactory, make_staff, sign_in, web_client
from tests.unit.test_password_hashes import meets_owasp, parameters

pytestmark = pytest.mark.db

PASSWORD = "correct-horse"  # make_staff's


async def stored_hash(db: async_sessionmaker[AsyncSession], login: str) -> str:
    async with db() as session:
        found = await session.scalar(select(User.password_hash).where(User.login == login))
    assert found is not None
    return found


async def test_a_weak_hash_is_upgraded_at_the_next_sign_in(
    db: async_sessionmaker[AsyncSession], aiohttp_client: ClientFactory
) -> None:
    await make_staff(db)
    assert meets_owasp(await stored_hash(db, "operator"))  # as every user is created
    weak = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1).hash(PASSWORD)
    async with db() as session:
        await session.execute(
            update(User).where(User.login == "operator").values(password_hash=weak)
        )
        await session.commit()
    client = await web_client(db, aiohttp_client)

    assert (await sign_in(client, "operator", "wrong-password")).status == 401
    assert await stored_hash(db, "operator") == weak  # a wrong password changes nothing

    assert (await sign_in(client, "operator")).status == 303
    upgraded = await stored_hash(db, "operator")
    assert upgraded != weak and meets_owasp(upgraded)
    assert parameters(upgraded)["m"] == "65536"
    assert verify_password(upgraded, PASSWORD)

    client.session.cookie_jar.clear()
    assert (await sign_in(client, "operator")).status == 303
    assert await stored_hash(db, "operator") == upgraded  # current now: left alone
