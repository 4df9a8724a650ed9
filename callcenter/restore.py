"""``callcenter restore``: check a backup file, then put it in place of the database.

A restore touches nothing until the backup is fully loaded: it goes into a new database
on the same server, is migrated to this version's schema, and only then takes the
current database's name (both renames in one transaction). Any failure before that
leaves the current data as they were.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from callcenter.database import database_name, with_database
from callcenter.pg_tools import (
    PRODUCT_ARCHIVE,
    BackupError,
    OpenDatabase,
    PgTools,
    Progress,
    TerminalProgress,
    connect,
    explain,
    in_database,
    run_tool,
    server_tools,
    split_password,
    tool_env,
)
from callcenter.settings import Settings

# a fresh migration fills these with defaults (0004): rows there alone are nobody's data
DEFAULTS_ONLY = frozenset({"alembic_version", "pipeline_stages", "refusal_reasons", "dispositions"})
_TABLE_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA ", re.MULTILINE)


class RestoreRefused(BackupError):
    """The restore was refused before anything was touched."""


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
    env = tool_env()
    refusals: list[str] = []
    for tools in candidates:
        code, listing, said = await run_tool([tools("pg_restore"), "--list", str(dump)], env)
        if code != 0:
            refusals.append(said[-1] if said else f"exit status {code}")
            continue
        if not PRODUCT_ARCHIVE.search(listing):
            raise RestoreRefused(
                f"{dump} is a PostgreSQL backup, but not of a Callcenter database"
                " (it has no alembic_version table)"
            )
        args = [tools("pg_restore"), "--data-only", "--table=alembic_version", "--file=-"]
        code, sql, said = await run_tool([*args, str(dump)], env)
        revisions = _revisions_in(sql) if code == 0 else []
        if len(revisions) != 1:
            raise RestoreRefused(f"{dump} cannot be read: " + explain(said))
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
                return await connect(with_database(url, name))
            except (OSError, asyncpg.PostgresError) as exc:
                failures.append(f"{name}: {exc}")
    raise BackupError(
        "cannot reach the server's postgres or template1 database: " + "; ".join(failures)
    )


async def _tables_with_rows(url: str) -> list[str]:
    conn = await connect(url)
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
    dbname, env = split_password(url)
    # objects belong to whoever restores (or --role), not to the roles of the old server
    args = [archive.tools("pg_restore"), "--verbose", "--no-owner", "--no-password"]
    args += [f"--role={role}"] if role else []
    # a pg_restore of 17 or newer begins with SET transaction_timeout, unknown before 17;
    # it sets nothing that matters here, so that one error is let through
    forgive = server_major < 17 <= archive.tools.major
    args += [] if forgive else ["--exit-on-error"]
    code, _, said = await run_tool(
        [*args, f"--dbname={dbname}", str(dump)], env, archive.tables, progress
    )
    errors = [line for line in said if line.startswith("pg_restore: error:")]
    forgiven = forgive and errors and all("transaction_timeout" in line for line in errors)
    if code != 0 and not forgiven:
        raise BackupError("the backup did not load: " + explain(said))


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
        archive = await read_archive(dump, await server_tools(major))
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


def restore_command(settings: Settings, dump: Path, replace: bool, database: OpenDatabase) -> int:
    """``callcenter restore``: 0 restored, 2 refused, 1 failed; the last two change nothing."""
    progress = TerminalProgress("restore") if sys.stderr.isatty() else None

    async def work(url: str) -> Restored:
        return await restore(url, dump, replace=replace, progress=progress)

    try:
        done = asyncio.run(in_database(database, settings, work, progress))
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
