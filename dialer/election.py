"""One dialer per database: the process holding a PostgreSQL advisory lock dials.

The lock lives on a connection of its own (autocommit: no transaction stays open)
that the engine keeps for as long as it dials; when the process dies, PostgreSQL
drops the connection and the lock with it, and a waiting process takes over. The
same connection listens for the controls' wake-up (``dialer.control``) and holds
the campaigns' sending locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dialer.control import WAKE_CHANNEL

log = logging.getLogger(__name__)

DIALER_LOCK = 0x6363_0003
RETRY_SECONDS = 5.0


@asynccontextmanager
async def elected(
    engine: AsyncEngine, wake: asyncio.Event, *, retry_seconds: float = RETRY_SECONDS
) -> AsyncIterator[AsyncConnection]:
    """Wait until this process is the dialer; yield the connection that holds the lock."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        waiting_logged = False
        while not await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": DIALER_LOCK}
        ):
            if not waiting_logged:
                log.info("another process runs the dialer; waiting to take over")
                waiting_logged = True
            await asyncio.sleep(retry_seconds)
        raw: Any = (await connection.get_raw_connection()).driver_connection  # asyncpg's

        def woken(*_: Any) -> None:
            wake.set()

        await raw.add_listener(WAKE_CHANNEL, woken)
        try:
            yield connection
        finally:
            try:
                if not raw.is_closed():
                    await raw.remove_listener(WAKE_CHANNEL, woken)
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": DIALER_LOCK}
                    )
            except Exception:
                log.warning("dialer lock not released cleanly", exc_info=True)
