"""Contact import pages: upload a CSV, map its columns, watch it run, read its report.

The import runs as a task owned by the application (``ImportRunner``): shutting the
application down cancels and awaits it, and the all-or-nothing import then leaves
nothing behind and marks its row failed.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import logging
import re
from collections.abc import AsyncIterator

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from callcenter import import_jobs
from callcenter.client_card import contact_definitions
from callcenter.contact_rows import CUSTOM_PREFIX
from callcenter.csv_import import CsvFormatError
from callcenter.import_jobs import (
    MAPPABLE_FIELDS,
    MAX_UPLOAD_BYTES,
    ImportRunner,
    Progress,
    Upload,
    UploadStore,
)
from callcenter.models import ContactImport, CustomFieldDefinition, ImportStatus, User
from web.auth import MANAGERS, requires
from web.json_api import int_param, me, refusal
from web.pages import page_context
from web.state import SERVICES
from web.templating import current_language, gettext

log = logging.getLogger(__name__)

IMPORT_RUNNER = web.AppKey("contact_import_runner", ImportRunner)
CHUNK = 256 * 1024
HISTORY_ROWS = 100
SHOWN_PROBLEMS = 500
_DUPLICATE_ROW = re.compile(r"duplicate of row (\d+) \((.*)\)")
_DUPLICATE_CONTACT = re.compile(r"duplicate of contact #(\d+) \((.*)\)")
# a custom field's problems come with their parameters filled in (client_fields)
_FILLED_IN = [
    (re.compile(r"Must be one of: (?P<choices>.*)\."), "Must be one of: %(choices)s."),
    (
        re.compile(r"Must be text of at most (?P<limit>\d+) characters\."),
        "Must be text of at most %(limit)s characters.",
    ),
]


def problem_text(message: str) -> str:
    """A problem of the import service in the reader's words (unknown ones as they are)."""
    if match := _DUPLICATE_ROW.fullmatch(message):
        return gettext("duplicate of row %(row)s (%(key)s)") % {
            "row": match[1],
            "key": match[2],
        }
    if match := _DUPLICATE_CONTACT.fullmatch(message):
        return gettext("duplicate of client #%(id)s (%(key)s)") % {
            "id": match[1],
            "key": match[2],
        }
    for pattern, message_id in _FILLED_IN:
        if match := pattern.fullmatch(message):
            return gettext(message_id) % match.groupdict()
    return gettext(message)


def _store(request: web.Request) -> UploadStore:
    return UploadStore(request.app[SERVICES].settings.data_dir / "imports")


def _own_upload(request: web.Request) -> Upload:
    upload = _store(request).find(request.match_info["token"])
    if upload is None or upload.owner_id != me(request).id:
        raise web.HTTPNotFound(text="no such upload: it was started, or it expired")
    return upload


async def _import_row(request: web.Request) -> ContactImport:
    async with request.app[SERVICES].db() as session:
        row = await session.get(ContactImport, int_param(request, "id"))
    if row is None:
        raise refusal(web.HTTPNotFound, "no such import")
    return row


# -- pages ----------------------------------------------------------------------------


@requires(*MANAGERS)
async def imports_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SERVICES].db() as session:
        rows = (
            await session.execute(
                select(ContactImport, User.full_name)
                .outerjoin(User, User.id == ContactImport.created_by_id)
                .order_by(ContactImport.id.desc())
                .limit(HISTORY_ROWS)
            )
        ).all()
    imports = [(row, author, gettext(f"import {row.status}")) for row, author in rows]
    context = page_context(request, imports=imports)
    return aiohttp_jinja2.render_template("imports.html", request, context)


def _upload_form(request: web.Request, error: str | None, status: int) -> web.StreamResponse:
    context = page_context(request, error=error, max_megabytes=MAX_UPLOAD_BYTES // 2**20)
    return aiohttp_jinja2.render_template("import_new.html", request, context, status=status)


@requires(*MANAGERS)
async def new_import_form(request: web.Request) -> web.StreamResponse:
    return _upload_form(request, None, 200)


async def _receive(request: web.Request, store: UploadStore) -> Upload | str:
    """The posted file saved to the upload folder, or why not (an English message id)."""
    if not request.content_type.startswith("multipart/"):
        return "choose a CSV file"
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        upload = store.new(part.filename or "contacts.csv", me(request))
        size = 0
        try:
            with upload.path.open("wb") as out:
                while chunk := await part.read_chunk(CHUNK):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        store.remove(upload)
                        return "the file is too large"
                    out.write(chunk)
        except BaseException:
            store.remove(upload)
            raise
        if size == 0:
            store.remove(upload)
            return "the file is empty: a header row is expected"
        return upload
    return "choose a CSV file"


@requires(*MANAGERS)
async def upload_import(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    received = await _receive(request, store)
    if isinstance(received, str):
        status = 413 if received == "the file is too large" else 400
        return _upload_form(request, gettext(received), status)
    try:
        await asyncio.to_thread(import_jobs.preview, received.path)
    except CsvFormatError as exc:
        store.remove(received)
        return _upload_form(request, problem_text(str(exc)), 400)
    raise web.HTTPSeeOther(f"/imports/uploads/{received.token}")


async def _custom_fields(request: web.Request) -> list[CustomFieldDefinition]:
    async with request.app[SERVICES].db() as session:
        return await contact_definitions(session)


async def _mapping_page(
    request: web.Request,
    upload: Upload,
    chosen: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    preview = await asyncio.to_thread(import_jobs.preview, upload.path)
    custom_fields = await _custom_fields(request)
    if chosen is None:
        mapping = import_jobs.propose_custom(preview.header, custom_fields, preview.proposed)
    else:
        mapping = chosen
    language = current_language.get()
    fields = [(name, gettext(f"field {name}")) for name in MAPPABLE_FIELDS]
    fields += [
        (CUSTOM_PREFIX + d.key, (d.label_en or d.label_ru) if language == "en" else d.label_ru)
        for d in custom_fields
    ]
    context = page_context(
        request,
        upload=upload,
        preview=preview,
        columns=[(i, column, mapping.get(column, "")) for i, column in enumerate(preview.header)],
        fields=fields,
        error=error,
        delimiter_name={";": "; (semicolon)", ",": ", (comma)", "\t": "tab"}.get(
            preview.delimiter, preview.delimiter
        ),
    )
    return aiohttp_jinja2.render_template("import_mapping.html", request, context, status=status)


@requires(*MANAGERS)
async def mapping_page(request: web.Request) -> web.StreamResponse:
    return await _mapping_page(request, _own_upload(request))


@requires(*MANAGERS)
async def start_import(request: web.Request) -> web.StreamResponse:
    upload = _own_upload(request)
    services = request.app[SERVICES]
    form = await request.post()
    preview = await asyncio.to_thread(import_jobs.preview, upload.path)
    custom_fields = await _custom_fields(request)
    offered = {*MAPPABLE_FIELDS, *(CUSTOM_PREFIX + d.key for d in custom_fields)}
    mapping: dict[str, str] = {}
    for i, column in enumerate(preview.header):
        chosen = form.get(f"column-{i}")
        if isinstance(chosen, str) and chosen in offered and column:
            mapping[column] = chosen
    problem = import_jobs.check_mapping(
        preview.header, mapping, services.settings.default_region, custom_fields
    )
    if problem is not None:
        return await _mapping_page(request, upload, mapping, problem_text(problem), 400)
    async with services.db() as session:
        row = await import_jobs.begin(session, me(request), upload, mapping)
        await session.commit()
    _store(request).claim(upload)  # a second click finds no upload to start again
    progress = Progress()
    work = import_jobs.run_import(
        services.db,
        row.id,
        upload,
        _store(request),
        mapping,
        region=services.settings.default_region,
        progress=progress,
    )
    request.app[IMPORT_RUNNER].start(row.id, work, progress)
    raise web.HTTPSeeOther(f"/imports/{row.id}")


@requires(*MANAGERS)
async def import_page(request: web.Request) -> web.StreamResponse:
    row = await _import_row(request)
    report = row.report
    problems = [
        {**p, "message": problem_text(str(p["message"]))}
        for p in [*report.get("errors", []), *report.get("duplicate_rows", [])][:SHOWN_PROBLEMS]
    ]
    progress = request.app[IMPORT_RUNNER].progress_of(row.id) or Progress()
    context = page_context(
        request,
        row=row,
        state=gettext(f"import {row.status}"),
        progress=progress,
        problems=problems,
        more_problems=len(report.get("errors", [])) + len(report.get("duplicate_rows", []))
        > SHOWN_PROBLEMS,
        failure=problem_text(str(report["error"])) if report.get("error") else None,
    )
    return aiohttp_jinja2.render_template("import.html", request, context)


@requires(*MANAGERS)
async def problems_csv(request: web.Request) -> web.StreamResponse:
    row = await _import_row(request)
    out = io.StringIO()
    import_jobs.stored_report(row).write_problems_csv(out)
    return web.Response(
        body=codecs.BOM_UTF8 + out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{row.id}-problems.csv"'},
    )


@requires(*MANAGERS)
async def import_api(request: web.Request) -> web.StreamResponse:
    """An import's state: live progress while it runs, the counts once it ended."""
    row = await _import_row(request)
    progress = request.app[IMPORT_RUNNER].progress_of(row.id)
    running = row.status == ImportStatus.RUNNING
    return web.json_response(
        {
            "id": row.id,
            "file_name": row.file_name,
            "status": row.status,
            "started_at": row.started_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "rows_done": progress.rows_done if progress and running else row.rows_total,
            "percent": progress.percent if progress and running else (0 if running else 100),
            "rows_total": row.rows_total,
            "created": row.created,
            "duplicates": row.duplicates,
            "rejected": row.rejected,
            "error": row.report.get("error"),
        }
    )


async def _own_imports(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    store = UploadStore(services.settings.data_dir / "imports")
    try:
        await asyncio.to_thread(store.sweep)
        async with services.db() as session:
            interrupted = await import_jobs.fail_interrupted(session)
            await session.commit()
        if interrupted:
            log.warning(
                "%d contact imports were cut off by the last stop: marked failed", interrupted
            )
    except (OSError, SQLAlchemyError) as exc:
        # the console must start without its database (health check answers 503)
        log.warning("could not tidy up interrupted imports: %s", exc)
    yield
    await app[IMPORT_RUNNER].close()


def add_routes(app: web.Application) -> None:
    app[IMPORT_RUNNER] = ImportRunner()
    app.cleanup_ctx.append(_own_imports)
    app.router.add_get("/imports", imports_page)
    app.router.add_get("/imports/new", new_import_form)
    app.router.add_post("/imports/new", upload_import)
    app.router.add_get(r"/imports/uploads/{token:[A-Za-z0-9_-]+}", mapping_page)
    app.router.add_post(r"/imports/uploads/{token:[A-Za-z0-9_-]+}/start", start_import)
    app.router.add_get(r"/imports/{id:\d+}", import_page)
    app.router.add_get(r"/imports/{id:\d+}/problems.csv", problems_csv)
    app.router.add_get(r"/api/v1/imports/{id:\d+}", import_api)
