"""Contact imports as a manager runs them: upload, check the mapping, import in the
background with progress, keep the report.

The file waits in the data folder (``imports/``) from upload until its import ends,
and no longer. ``csv_import.import_contacts`` does the work all or nothing, so an
import that fails or is interrupted (shutdown, cancellation) leaves no contact
behind; its ``contact_imports`` row then says ``failed`` and why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.contact_rows import CUSTOM_PREFIX, FIELDS, RowParser, propose_mapping
from callcenter.csv_import import CsvFormatError, ImportReport, RowProblem, import_contacts
from callcenter.csv_source import CsvSource
from callcenter.models import ContactImport, CustomFieldDefinition, ImportStatus, User

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
PREVIEW_ROWS = 5
# stored in the row's report; the problems CSV holds as many
MAX_REPORTED = 10_000
# an upload nobody started an import of is removed after this long
ABANDONED_AFTER_SECONDS = 24 * 3600
MAX_FILE_NAME = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
MAPPABLE_FIELDS = FIELDS


# -- uploads --------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path
    file_name: str
    owner_id: int


class UploadStore:
    """Uploaded files waiting for their import: ``<token>.csv`` beside ``<token>.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new(self, file_name: str, owner: User) -> Upload:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        name = Path(file_name.replace("\\", "/")).name[:MAX_FILE_NAME] or "contacts.csv"
        upload = Upload(token, self.folder / f"{token}.csv", name, owner.id)
        meta = {"file_name": upload.file_name, "owner_id": owner.id}
        (self.folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
        return upload

    def find(self, token: str) -> Upload | None:
        if not _TOKEN.fullmatch(token):
            return None
        meta_path = self.folder / f"{token}.json"
        path = self.folder / f"{token}.csv"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not path.exists():
            return None
        return Upload(token, path, str(meta["file_name"]), int(meta["owner_id"]))

    def claim(self, upload: Upload) -> None:
        """The import has started: the upload can no longer be found by its token."""
        (self.folder / f"{upload.token}.json").unlink(missing_ok=True)

    def remove(self, upload: Upload) -> None:
        upload.path.unlink(missing_ok=True)
        (self.folder / f"{upload.token}.json").unlink(missing_ok=True)

    def sweep(self, older_than: float = ABANDONED_AFTER_SECONDS) -> int:
        """Remove uploads left without an import; the number removed."""
        if not self.folder.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in self.folder.iterdir():
            if path.suffix in (".csv", ".json") and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += path.suffix == ".csv"
        return removed


@dataclass(frozen=True)
class Preview:
    """What the mapping step shows: how the file was read and its first rows."""

    encoding: str
    delimiter: str
    header: list[str]
    rows: list[list[str]]
    proposed: dict[str, str]


def preview(path: Path) -> Preview:
    """Read the start of the file (blocking: run it in a thread); CsvFormatError if unreadable."""
    with path.open("rb") as stream:
        source = CsvSource(stream)
        rows: list[list[str]] = []
        for record in source.records():
            rows.append(record.cells)
            if len(rows) == PREVIEW_ROWS:
                break
        return Preview(
            encoding=source.encoding or "utf-8",
            delimiter=source.delimiter,
            header=source.header,
            rows=rows,
            proposed=propose_mapping(source.header),
        )


def propose_custom(
    header: Sequence[str],
    custom_fields: Sequence[CustomFieldDefinition],
    proposed: Mapping[str, str],
) -> dict[str, str]:
    """``proposed`` plus the columns named as a custom field is (label or key)."""
    by_name: dict[str, str] = {}
    for definition in custom_fields:
        for name in (definition.key, definition.label_ru, definition.label_en):
            if name:
                by_name.setdefault(" ".join(name.lower().split()), CUSTOM_PREFIX + definition.key)
    mapping = dict(proposed)
    taken = set(mapping.values())
    for column in header:
        field = by_name.get(" ".join(column.lower().split()))
        if column not in mapping and field is not None and field not in taken:
            mapping[column] = field
            taken.add(field)
    return mapping


def check_mapping(
    header: list[str],
    mapping: Mapping[str, str],
    region: str,
    custom_fields: Sequence[CustomFieldDefinition] = (),
) -> str | None:
    """Why this mapping cannot import the file, or None."""
    try:
        RowParser(header, mapping, region, custom_fields)
    except ValueError as exc:
        return str(exc)
    return None


# -- running imports ------------------------------------------------------------------


@dataclass
class Progress:
    rows_done: int = 0
    bytes_done: int = 0
    bytes_total: int = 0

    def update(self, rows_done: int, bytes_done: int, bytes_total: int) -> None:
        self.rows_done, self.bytes_done, self.bytes_total = rows_done, bytes_done, bytes_total

    @property
    def percent(self) -> int:
        if not self.bytes_total:
            return 0
        return min(100, self.bytes_done * 100 // self.bytes_total)


async def begin(
    session: AsyncSession, user: User, upload: Upload, mapping: Mapping[str, str]
) -> ContactImport:
    """The ``contact_imports`` row of an import about to start (the caller commits)."""
    row = ContactImport(
        created_by_id=user.id,
        file_name=upload.file_name,
        status=ImportStatus.RUNNING.value,
        report={"mapping": dict(mapping)},
    )
    session.add(row)
    await session.flush()
    return row


def _problems(problems: tuple[RowProblem, ...], room: int) -> list[dict[str, Any]]:
    return [
        {"row": p.row_number, "column": p.column, "message": p.message, "excerpt": p.excerpt}
        for p in problems[: max(0, room)]
    ]


async def _finish(
    db: async_sessionmaker[AsyncSession], import_id: int, status: ImportStatus, **values: Any
) -> None:
    async with db() as session, session.begin():
        row = await session.get(ContactImport, import_id, with_for_update=True)
        if row is None:
            return
        report = dict(row.report)
        report.update(values.pop("report", {}))
        await session.execute(
            update(ContactImport)
            .where(ContactImport.id == import_id)
            .values(status=status.value, finished_at=datetime.now(UTC), report=report, **values)
        )


async def run_import(
    db: async_sessionmaker[AsyncSession],
    import_id: int,
    upload: Upload,
    store: UploadStore,
    mapping: Mapping[str, str],
    *,
    region: str,
    progress: Progress,
) -> None:
    """Import the upload, then record the outcome on the row; the file is removed after."""
    try:
        report = await import_contacts(
            db,
            upload.path,
            mapping,
            region=region,
            on_progress=progress.update,
            import_id=import_id,
        )
    except asyncio.CancelledError:
        # the import's transaction rolled back: say so before letting the cancel through
        await asyncio.shield(
            _finish(db, import_id, ImportStatus.FAILED, report={"error": "interrupted"})
        )
        raise
    except (CsvFormatError, ValueError) as exc:
        await _finish(db, import_id, ImportStatus.FAILED, report={"error": str(exc)})
    except Exception:
        log.exception("contact import %s failed", import_id)
        await _finish(db, import_id, ImportStatus.FAILED, report={"error": "unexpected error"})
    else:
        await _finish(
            db,
            import_id,
            ImportStatus.DONE,
            rows_total=report.rows_total,
            created=report.created,
            duplicates=report.duplicates,
            rejected=report.rejected,
            report={
                "encoding": report.encoding,
                "delimiter": report.delimiter,
                "errors": _problems(report.errors, MAX_REPORTED),
                "duplicate_rows": _problems(
                    report.duplicate_rows, MAX_REPORTED - len(report.errors)
                ),
            },
        )
    finally:
        store.remove(upload)


def stored_report(row: ContactImport) -> ImportReport:
    """The report kept on the row, to write its problems CSV again."""

    def problems(key: str) -> tuple[RowProblem, ...]:
        return tuple(
            RowProblem(int(p["row"]), str(p["column"]), str(p["message"]), str(p["excerpt"]))
            for p in row.report.get(key, [])
        )

    return ImportReport(
        rows_total=row.rows_total,
        created=row.created,
        duplicates=row.duplicates,
        rejected=row.rejected,
        errors=problems("errors"),
        duplicate_rows=problems("duplicate_rows"),
        encoding=str(row.report.get("encoding", "")),
        delimiter=str(row.report.get("delimiter", "")),
    )


async def fail_interrupted(session: AsyncSession) -> int:
    """At start-up: imports still 'running' died with the last process; nothing of them
    was kept (all or nothing), so they are marked failed."""
    result = await session.execute(_FAIL_INTERRUPTED)
    return cast(CursorResult[Any], result).rowcount


_FAIL_INTERRUPTED = text(
    """UPDATE contact_imports
       SET status = 'failed', finished_at = now(),
           report = report || '{"error": "interrupted"}'::jsonb
       WHERE status = 'running'"""
)


@dataclass
class ImportRunner:
    """Owns the running imports: each is a task, cancelled and awaited by ``close``."""

    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    progress: dict[int, Progress] = field(default_factory=dict)

    def start(self, import_id: int, work: Coroutine[Any, Any, None], progress: Progress) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"contact-import-{import_id}")
        self.tasks[import_id] = task
        self.progress[import_id] = progress
        task.add_done_callback(lambda _: self._forget(import_id))

    def _forget(self, import_id: int) -> None:
        self.tasks.pop(import_id, None)
        self.progress.pop(import_id, None)

    def progress_of(self, import_id: int) -> Progress | None:
        return self.progress.get(import_id)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
