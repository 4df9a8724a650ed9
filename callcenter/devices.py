"""Which operator owns which phone (``users.interface``, e.g. ``PJSIP/op101``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.models import User

# an unknown device triggers a reload (a user was just added), but the same unknown
# device (a trunk, a phone nobody owns) at most this often
RELOAD_AFTER_MISS_SECONDS = 1.0


@dataclass(frozen=True)
class Operator:
    user_id: int
    full_name: str
    device: str


class DeviceDirectory:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._by_device: dict[str, Operator] = {}
        self._missed_at: dict[str, float] = {}

    async def reload(self) -> None:
        async with self._db() as session:
            rows = await session.execute(
                select(User.id, User.full_name, User.interface).where(
                    User.is_active.is_(True), User.interface.is_not(None)
                )
            )
            operators = [Operator(uid, name, device) for uid, name, device in rows if device]
        # devices are compared case-insensitively: Asterisk keeps the dialplan's spelling
        self._by_device = {op.device.lower(): op for op in operators}

    def everyone(self) -> list[Operator]:
        """Every active user with a phone, as last loaded."""
        return list(self._by_device.values())

    def cached(self, device: str) -> Operator | None:
        return self._by_device.get(device.lower())

    async def operator(self, device: str) -> Operator | None:
        found = self.cached(device)
        if found is not None:
            return found
        # a per-device clock: a user added a moment after another device's miss (or
        # after start-up) must still be found on their first call
        key, now = device.lower(), time.monotonic()
        if now - self._missed_at.get(key, float("-inf")) > RELOAD_AFTER_MISS_SECONDS:
            if len(self._missed_at) > 10_000:  # unknown devices must not grow it forever
                self._missed_at.clear()
            self._missed_at[key] = now
            await self.reload()
            found = self.cached(device)
        return found
