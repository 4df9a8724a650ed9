"""Schema migrations (Alembic) driven from code: no alembic.ini is needed.

All functions here are synchronous: the migration environment runs the async engine
with ``asyncio.run``, so they must not be called from inside a running event loop
(from async code, use ``await asyncio.to_thread(upgrade, url)``). The database URL is
passed to the environment out of band and is never logged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from callcenter.database import make_engine, sqlalchemy_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# key of Config.attributes read by migrations/env.py
URL_ATTRIBUTE = "callcenter_url"

# how autogenerate compares models with a database; the drift test uses the same
COMPARE_OPTIONS: dict[str, bool] = {"compare_type": True, "compare_server_default": True}


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url`` (``postgresql://...``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    # not a main option: those go through configparser interpolation (a '%' in an
    # encoded password would break it) and could be printed by alembic commands
    cfg.attributes[URL_ATTRIBUTE] = sqlalchemy_url(url)
    return cfg


def _not_in_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "callcenter.migrate runs its own event loop; from async code call it through"
        " asyncio.to_thread()"
    )


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to ``revision``. Not from inside a running event loop."""
    _not_in_event_loop()
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"`` drops everything)."""
    _not_in_event_loop()
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    _not_in_event_loop()

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async def run() -> str | None:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(run())
