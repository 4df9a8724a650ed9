"""The `callcenter` command as a user runs it: a real process against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from callcenter import database
from callcenter.auth import sign_in

pytestmark = pytest.mark.db


def callcenter(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "asterisk-sandbox"),
        (("serve",), "AMI listener"),
        (("migrate",), "--revision"),
        (("users", "add"), "--extension"),
        (("demo",), "--call-interval"),
        (("asterisk-sandbox",), "build"),
    ],
)
def test_every_command_has_useful_help(args: tuple[str, ...], expected: str) -> None:
    result = callcenter(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_bad_setting_stops_with_a_clear_message() -> None:
    result = callcenter("migrate", env={"CALLCENTER_HTTP_PORT": "eighty"})
    assert result.returncode == 2
    assert "CALLCENTER_HTTP_PORT='eighty'" in result.stderr


def test_migrate_brings_an_empty_database_to_head(empty_database_url: str) -> None:
    result = callcenter("migrate", env={"CALLCENTER_DATABASE_URL": empty_database_url})
    assert result.returncode == 0, result.stderr

    async def tables() -> set[str]:
        engine = database.make_engine(empty_database_url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
            )
            names = {row[0] for row in rows}
        await engine.dispose()
        return names

    assert {"users", "contacts", "calls", "leads", "audit_log"} <= asyncio.run(tables())


def test_users_add_prints_a_password_that_signs_in(database_url: str) -> None:
    env = {"CALLCENTER_DATABASE_URL": database_url}
    result = callcenter(
        "users",
        "add",
        "petrova",
        "--role",
        "supervisor",
        "--extension",
        "105",
        "--device",
        "PJSIP/op105",
        "--name",
        "Ольга Петрова",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    password = result.stdout.split("password: ")[1].strip()

    async def check() -> None:
        engine = database.make_engine(database_url)
        async with database.make_sessionmaker(engine)() as session:
            signed = await sign_in(session, "petrova", password)
            assert signed is not None
            assert (signed.user.role, signed.user.extension) == ("supervisor", "105")
            assert signed.user.password_hash.startswith("$argon2id$")
        await engine.dispose()

    asyncio.run(check())

    again = callcenter("users", "add", "PETROVA", "--role", "operator", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    taken = callcenter("users", "add", "other", "--role", "operator", "--extension", "105", env=env)
    assert taken.returncode == 2 and "extension" in taken.stderr


def test_users_add_reads_a_password_from_stdin(database_url: str) -> None:
    env = {"CALLCENTER_DATABASE_URL": database_url}
    short = callcenter(
        "users", "add", "ivanov", "--role", "admin", "--password-stdin", env=env, stdin="short\n"
    )
    assert short.returncode == 2 and "at least 8" in short.stderr
    ok = callcenter(
        "users",
        "add",
        "ivanov",
        "--role",
        "admin",
        "--password-stdin",
        env=env,
        stdin="a-long-password\n",
    )
    assert ok.returncode == 0 and "password:" not in ok.stdout
