from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import demo_data
from callcenter.auth import sign_in
from callcenter.models import Contact, ContactPhone, Role, User
from callcenter.phones import to_e164

pytestmark = pytest.mark.db

PASSWORDS = {user.login: f"demo-{user.login}-pw" for user in demo_data.DEMO_USERS}


async def count(session: AsyncSession, model: type) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_seed_loads_every_role_and_is_idempotent(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        assert await demo_data.seed(session, PASSWORDS, contacts=30)
        await session.commit()
    async with db() as session:
        assert not await demo_data.seed(session, PASSWORDS, contacts=30)
        roles = set((await session.execute(select(User.role))).scalars())
        assert roles == {role.value for role in Role}
        assert await count(session, Contact) == 30
        assert await count(session, ContactPhone) >= 30
        assert await sign_in(session, "op101", PASSWORDS["op101"]) is not None


async def test_demo_callers_match_their_contacts(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        await demo_data.seed(session, PASSWORDS, contacts=20)
        callers = await demo_data.demo_callers(session, unknown=3)
        known = set((await session.execute(select(ContactPhone.e164))).scalars())
        raw = list((await session.execute(select(ContactPhone.raw))).scalars())
    matched = [c for c in callers if to_e164(c.number, "RU") in known]
    assert len(matched) == len(callers) - 3
    assert all(c.number.isdigit() for c in callers)
    # phones are stored as typed, in more than one format
    assert len({r[0] for r in raw}) > 1
