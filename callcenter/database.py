"""Database URLs, engines and the creation of a database on a server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def libpq_url(url: str) -> str:
    """The URL as asyncpg and psql take it (``postgresql://``)."""
    scheme, rest = url.split("://", 1)
    if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("not a PostgreSQL URL")
    return "postgresql://" + rest


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy's asyncpg dialect takes it."""
    return "postgresql+asyncpg://" + libpq_url(url).split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def database_name(url: str) -> str:
    return urlsplit(libpq_url(url)).path.lstrip("/")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(sqlalchemy_url(url), **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ensure_database(server_url: str, name: str, *, template: str | None = None) -> bool:
    """Create database ``name`` on the server unless it exists; True when created.

    ``template`` copies an existing database (much faster than migrating anew).
    """
    for db_name in (name, template or name):
        if not _DB_NAME.match(db_name):
            raise ValueError(f"bad database name {db_name!r}")
    conn = await asyncpg.connect(libpq_url(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        # identifiers cannot be bound parameters; the name was checked above
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return True
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"bad database name {name!r}")
    conn = await asyncpg.connect(libpq_url(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def ping(url: str) -> None:
    conn = await asyncpg.connect(libpq_url(url), timeout=5)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
