"""Backups: ``callcenter backup`` writes one pg_dump archive, ``callcenter restore`` puts one back.

A backup is a pg_dump archive (custom format) of the product's database: one consistent
snapshot, taken while the product keeps running. It is written under a temporary name
beside its final one and renamed once pg_restore has read it back, so a file with the
final name is always a whole backup.

Call recordings are files (``Settings.recordings_folder``), not rows: copy that folder
beside the backups (README, "Backups").
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from callcenter.database import database_name
from callcenter.pg_tools import (
    PRODUCT_ARCHIVE,
    BackupError,
    OpenDatabase,
    Progress,
    TerminalProgress,
    connect,
    explain,
    in_database,
    run_tool,
    server_tools,
    split_password,
)
from callcenter.settings import Settings

BACKUPS_FOLDER = "backups"


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
    conn = await connect(url)
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
    tools = (await server_tools(major))[0]
    dbname, env = split_password(url)
    partial = await asyncio.to_thread(_reserve, destination)
    try:
        # one transaction, one snapshot: consistent while the product keeps writing
        args = [tools("pg_dump"), "--format=custom", "--verbose", "--no-password"]
        code, _, said = await run_tool(
            [*args, f"--file={partial}", f"--dbname={dbname}"], env, tables, progress
        )
        if code != 0:
            raise BackupError("pg_dump failed: " + explain(said))
        code, listing, said = await run_tool([tools("pg_restore"), "--list", str(partial)], env)
        if code != 0 or not PRODUCT_ARCHIVE.search(listing):
            raise BackupError("the new backup does not read back: " + explain(said))
        size = await asyncio.to_thread(_publish, partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Backup(destination, size, tables, time.monotonic() - started)


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
            in_database(
                database, settings, lambda url: backup(url, destination, progress), progress
            )
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
