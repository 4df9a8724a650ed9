"""Throw-away PostgreSQL for benchmarks: CALLCENTER_TEST_DATABASE_URL's server, else embedded."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from callcenter import database
from callcenter.embedded_db import embedded_postgres
from callcenter.migrate import upgrade


@contextmanager
def scratch_server() -> Iterator[str]:
    """Admin URL of a server to create benchmark databases on."""
    server = os.environ.get("CALLCENTER_TEST_DATABASE_URL")
    if server:
        yield server
        return
    folder = Path(tempfile.mkdtemp(prefix="cc-bench-pg-"))
    try:
        with embedded_postgres(folder / "pg") as admin_url:
            yield admin_url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def migrated_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh database at head on ``server_url``, dropped afterwards."""
    asyncio.run(database.drop_database(server_url, name))
    asyncio.run(database.ensure_database(server_url, name))
    url = database.with_database(server_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(database.drop_database(server_url, name))
