"""The device directory: a phone's operator, including one added a moment ago."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.devices import DeviceDirectory
from callcenter.users import add_user

pytestmark = pytest.mark.db


async def add_operator(db: async_sessionmaker[AsyncSession], extension: str) -> int:
    async with db() as session:
        user = await add_user(
            session,
            login=f"op{extension}",
            full_name=f"Оператор {extension}",
            role="operator",
            password="correct-horse",
            extension=extension,
            device=f"PJSIP/op{extension}",
        )
        await session.commit()
        return user.id


async def test_a_user_added_right_after_a_load_is_found_on_their_first_call(
    db: async_sessionmaker[AsyncSession],
) -> None:
    directory = DeviceDirectory(db)
    await directory.reload()  # as at start-up
    assert await directory.operator("PJSIP/trunk") is None  # another device's miss
    user_id = await add_operator(db, "105")
    found = await directory.operator("pjsip/OP105")
    assert found is not None and found.user_id == user_id


async def test_the_same_unknown_device_reloads_at_most_once_a_second(
    db: async_sessionmaker[AsyncSession],
) -> None:
    directory = DeviceDirectory(db)
    assert await directory.operator("PJSIP/op106") is None
    await add_operator(db, "106")
    # the miss a moment ago is remembered: no reload per event for an unknown device
    assert await directory.operator("PJSIP/op106") is None
