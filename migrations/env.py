"""Alembic environment: async engine (asyncpg), models from ``callcenter.models``.

Called through ``callcenter.migrate`` (the URL arrives in ``config.attributes``), or by
the ``alembic`` command with the repo's alembic.ini and ``CALLCENTER_DATABASE_URL`` set.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from callcenter.database import sqlalchemy_url
from callcenter.migrate import COMPARE_OPTIONS, URL_ATTRIBUTE
from callcenter.models import Base

config = context.config
target_metadata = Base.metadata

MIGRATION_LOCK = int.from_bytes(b"callcent")  # any fixed bigint, unique to this purpose


def database_url() -> str:
    url = config.attributes.get(URL_ATTRIBUTE) or os.environ.get("CALLCENTER_DATABASE_URL")
    if not url:
        raise RuntimeError("no database: use callcenter.migrate or set CALLCENTER_DATABASE_URL")
    return sqlalchemy_url(str(url))


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **COMPARE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, **COMPARE_OPTIONS)
    with context.begin_transaction():
        # several web workers may start at once; the later ones wait, then find nothing to do
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
