"""Importing contacts from a CSV file: all or nothing, deduplicated, with a report per row.

Rows are parsed in batches (in a worker thread, so the event loop keeps serving)
and copied into a temporary table; at the end a few set-based statements find
duplicates and insert the new contacts, all in the one transaction. An exception
or a cancellation anywhere leaves the database as it was.

Duplicates: a row whose phone or e-mail already belongs to a contact, or to an
earlier row of the file, is skipped and reported ("duplicate of row 5" or "of
contact #123"); nothing is merged or overwritten. A row with any bad cell is
rejected as a whole and reported per column, so the error report holds exactly
the rows to fix and import again.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.client_card import contact_definitions
from callcenter.contact_rows import ContactRow, RowParser
from callcenter.csv_source import CsvFormatError, CsvSource, Limits
from callcenter.import_places import Place, PlaceFinder
from callcenter.spreadsheet import neutralise_cell

__all__ = ["CsvFormatError", "ImportReport", "Limits", "RowProblem", "import_contacts"]

MAX_STORED_PROBLEMS = 10_000
EXCERPT_CHARS = 200
BATCH_ROWS = 2000

Progress = Callable[[int, int, int], None]  # rows_done, bytes_done, bytes_total
T = TypeVar("T")


@dataclass(frozen=True)
class RowProblem:
    row_number: int  # as a spreadsheet shows it: the header is row 1
    column: str  # the file's header, or "" for the row as a whole
    message: str
    excerpt: str  # the start of the row as it was in the file


@dataclass(frozen=True)
class ImportReport:
    rows_total: int  # = created + duplicates + rejected
    created: int
    duplicates: int
    rejected: int
    errors: tuple[RowProblem, ...]  # the first MAX_STORED_PROBLEMS, one per bad cell
    duplicate_rows: tuple[RowProblem, ...]  # the first MAX_STORED_PROBLEMS
    encoding: str
    delimiter: str

    def write_problems_csv(self, out: IO[str]) -> None:
        """The errors then the duplicates as CSV, safe to open in a spreadsheet."""
        writer = csv.writer(out)
        writer.writerow(["row", "column", "problem", "excerpt"])
        for problem in (*self.errors, *self.duplicate_rows):
            cells = (problem.column, problem.message, problem.excerpt)
            writer.writerow([problem.row_number, *(neutralise_cell(c) for c in cells)])


STAGE_COLUMNS = (
    "row_number",
    "excerpt",
    "first_name",
    "last_name",
    "middle_name",
    "display_name",
    "company",
    "position",
    "status",
    "tags",
    "birthday",
    "custom_fields",
    "raws",
    "phones",
    "emails",
    "region",
    "time_zone",
)
CREATE_STAGE = """
CREATE TEMP TABLE import_rows (
    row_number int PRIMARY KEY, excerpt text NOT NULL,
    first_name text, last_name text, middle_name text, display_name text,
    company text, position text, status text NOT NULL, tags text[] NOT NULL,
    birthday date, custom_fields text NOT NULL,
    raws text[] NOT NULL, phones text[] NOT NULL, emails text[] NOT NULL,
    region text, time_zone text,
    dup_key text, dup_row int, dup_contact bigint
) ON COMMIT DROP
"""
FINISH = [
    """CREATE TEMP TABLE import_keys ON COMMIT DROP AS
       SELECT row_number, unnest(phones) AS key FROM import_rows
       UNION ALL SELECT row_number, unnest(emails) FROM import_rows""",
    # the planner needs the sizes for the joins below, not the (costly) text statistics
    "ANALYZE import_rows (row_number)",
    "ANALYZE import_keys",
    # against the base first: it names the contact a user can open
    """UPDATE import_rows r SET dup_key = d.key, dup_contact = d.contact_id
       FROM (SELECT DISTINCT ON (k.row_number) k.row_number, k.key, x.contact_id
             FROM import_keys k
             JOIN (SELECT e164 AS key, contact_id FROM contact_phones
                   UNION ALL SELECT email, contact_id FROM contact_emails) x USING (key)
             ORDER BY k.row_number, x.contact_id) d
       WHERE r.row_number = d.row_number""",
    """UPDATE import_rows r SET dup_key = d.key, dup_row = d.first_row
       FROM (SELECT DISTINCT ON (k.row_number) k.row_number, k.key, f.first_row
             FROM import_keys k
             JOIN (SELECT key, min(row_number) AS first_row FROM import_keys GROUP BY key) f
               USING (key)
             WHERE f.first_row < k.row_number
             ORDER BY k.row_number, f.first_row) d
       WHERE r.row_number = d.row_number AND r.dup_contact IS NULL""",
    """CREATE TEMP TABLE import_new ON COMMIT DROP AS
       SELECT nextval(pg_get_serial_sequence('contacts', 'id')) AS contact_id, r.*
       FROM import_rows r WHERE dup_key IS NULL ORDER BY row_number""",
    """INSERT INTO companies (name)
       SELECT DISTINCT company FROM import_new n
       WHERE company IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM companies c WHERE c.name = n.company)""",
    """INSERT INTO contacts (id, first_name, last_name, middle_name, display_name, company_id,
                             position, status, tags, birthday, custom_fields, region, time_zone,
                             import_id)
       SELECT n.contact_id, n.first_name, n.last_name, n.middle_name, n.display_name, c.id,
              n.position, n.status, n.tags, n.birthday, n.custom_fields::jsonb,
              n.region, n.time_zone, CAST(:import_id AS bigint)
       FROM import_new n
       LEFT JOIN (SELECT name, min(id) AS id FROM companies
                  WHERE name IN (SELECT company FROM import_new) GROUP BY name) c
         ON c.name = n.company""",
    """INSERT INTO contact_phones (contact_id, raw, e164)
       SELECT n.contact_id, p.raw, p.e164
       FROM import_new n, unnest(n.raws, n.phones) AS p(raw, e164)""",
    """INSERT INTO contact_emails (contact_id, email)
       SELECT n.contact_id, e.email FROM import_new n, unnest(n.emails) AS e(email)""",
]
DUPLICATES = """
SELECT row_number, dup_key, dup_row, dup_contact, excerpt FROM import_rows
WHERE dup_key IS NOT NULL ORDER BY row_number LIMIT :limit
"""


class _Batches:
    """The parsing half, run in a worker thread one batch at a time."""

    def __init__(self, source: CsvSource, parser: RowParser) -> None:
        self.source = source
        self.parser = parser
        self.records = source.records()
        self.rows = 0
        self.rejected = 0
        self.errors: list[RowProblem] = []

    def next_batch(self, size: int) -> tuple[list[tuple[int, str, ContactRow]], bool]:
        """Up to ``size`` rows parsed, the valid ones returned (number, excerpt, row);
        True when the file has ended."""
        valid: list[tuple[int, str, ContactRow]] = []
        limits = self.source.limits
        for done, record in enumerate(self.records, 1):
            self.rows += 1
            excerpt = self.source.delimiter.join(record.cells)[:EXCERPT_CHARS]
            if record.problem:
                self._reject(record.number, [("", record.problem)], excerpt)
            else:
                parsed = self.parser.parse(record.cells, limits.max_cell_chars)
                if isinstance(parsed, ContactRow):
                    valid.append((record.number, excerpt, parsed))
                else:
                    self._reject(record.number, [(e.column, e.message) for e in parsed], excerpt)
            if done == size:
                return valid, False
        return valid, True

    def _reject(self, number: int, problems: list[tuple[str, str]], excerpt: str) -> None:
        self.rejected += 1
        for column, message in problems:
            if len(self.errors) < MAX_STORED_PROBLEMS:
                self.errors.append(RowProblem(number, column, message, excerpt))


def _stage(number: int, excerpt: str, row: ContactRow, place: Place) -> tuple[Any, ...]:
    return (
        number,
        excerpt,
        row.first_name,
        row.last_name,
        row.middle_name,
        row.display_name,
        row.company,
        row.position,
        row.status,
        row.tags,
        row.birthday,
        json.dumps(row.custom_fields, ensure_ascii=False) if row.custom_fields else "{}",
        [raw for raw, _ in row.phones],
        [e164 for _, e164 in row.phones],
        row.emails,
        *place,  # region, time_zone
    )


async def _in_thread(fn: Callable[[], T]) -> T:
    future = asyncio.get_running_loop().run_in_executor(None, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])  # let the batch finish before the file is closed
        raise


async def _stage_all(pg: Any, batches: _Batches, size: int, on_progress: Progress | None) -> None:
    """Parses the file batch by batch into the staging table. The worker thread parses
    the next batch while the places of this one's phones are looked up (in a process of
    their own) and it is copied in."""

    def parse() -> tuple[list[tuple[int, str, ContactRow]], bool]:
        return batches.next_batch(size)

    parsing = asyncio.ensure_future(_in_thread(parse))
    try:
        async with PlaceFinder() as places:
            while True:
                valid, ended = await parsing
                done = (batches.rows, batches.source.bytes_done, batches.source.bytes_total)
                if not ended:
                    parsing = asyncio.ensure_future(_in_thread(parse))
                if valid:
                    found = await places.find([row.phones[0][1] for _, _, row in valid])
                    staged = [
                        _stage(number, excerpt, row, place)
                        for (number, excerpt, row), place in zip(valid, found, strict=True)
                    ]
                    await pg.copy_records_to_table(
                        "import_rows", records=staged, columns=STAGE_COLUMNS
                    )
                if on_progress is not None:
                    on_progress(*done)
                if ended:
                    return
    finally:
        if not parsing.done():
            parsing.cancel()  # _in_thread lets the batch finish before the file is closed
            await asyncio.wait([parsing])
        if not parsing.cancelled():
            parsing.exception()  # a failure of its own was raised, or lost to an earlier one


def _open(source: IO[bytes] | Path | str, limits: Limits) -> tuple[CsvSource, IO[bytes] | None]:
    if isinstance(source, (str, Path)):
        stream = Path(source).open("rb")  # noqa: SIM115 - closed by import_contacts
        try:
            return CsvSource(stream, limits), stream
        except BaseException:
            stream.close()
            raise
    return CsvSource(source, limits), None


async def import_contacts(
    db: async_sessionmaker[AsyncSession],
    source: IO[bytes] | Path | str,
    mapping: Mapping[str, str],
    *,
    region: str,
    on_progress: Progress | None = None,
    progress_every: int = BATCH_ROWS,
    limits: Limits | None = None,
    import_id: int | None = None,
) -> ImportReport:
    """Import contacts from a CSV file; raises CsvFormatError (or ValueError for a bad
    mapping) when the file as a whole cannot be imported, having imported nothing."""
    limits = limits or Limits()
    async with db() as session:
        custom_fields = await contact_definitions(session)
    csv_source, opened = await _in_thread(lambda: _open(source, limits))
    try:
        parser = RowParser(csv_source.header, mapping, region, custom_fields)
        batches = _Batches(csv_source, parser)
        async with db() as session, session.begin():
            await session.execute(text(CREATE_STAGE))
            raw = await (await session.connection()).get_raw_connection()
            pg: Any = raw.driver_connection  # asyncpg: COPY is the fast way in
            await _stage_all(pg, batches, progress_every, on_progress)
            # import_id marks the import's own clients: it can become a dial list
            for statement in FINISH:
                await session.execute(text(statement), {"import_id": import_id})
            created = await session.scalar(text("SELECT count(*) FROM import_new")) or 0
            duplicates = await session.scalar(
                text("SELECT count(*) FROM import_rows WHERE dup_key IS NOT NULL")
            )
            found = await session.execute(text(DUPLICATES), {"limit": MAX_STORED_PROBLEMS})
            duplicate_rows = tuple(
                RowProblem(
                    number,
                    "",
                    f"duplicate of row {dup_row} ({key})"
                    if dup_row is not None
                    else f"duplicate of contact #{dup_contact} ({key})",
                    excerpt,
                )
                for number, key, dup_row, dup_contact, excerpt in found
            )
    finally:
        if opened is not None:
            opened.close()
    return ImportReport(
        rows_total=batches.rows,
        created=created,
        duplicates=duplicates or 0,
        rejected=batches.rejected,
        errors=tuple(batches.errors),
        duplicate_rows=duplicate_rows,
        encoding=csv_source.encoding or "utf-8",
        delimiter=csv_source.delimiter,
    )
