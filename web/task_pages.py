"""Task pages: my day (``/tasks``), a new task, done / cancel / take, the team's load."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.contact_export import ExportFormat
from callcenter.form_errors import whole_number
from callcenter.models import Task, TaskKind, TaskStatus, User
from callcenter.task_board import OperatorDay, operator_day, team_load, today_in
from callcenter.task_edits import (
    TaskChange,
    TaskDraft,
    TaskInputError,
    change_task,
    create_task,
    is_leader,
    may_change,
)
from callcenter.tasks import announce, task_payload
from web import tasks_api
from web.auth import ANYONE_SIGNED_IN, LEADERS, requires
from web.client_access import chosen_client
from web.json_api import int_param, me
from web.list_files import download_links, list_file, local_time, requested_format
from web.pages import page_context
from web.state import HUB, SERVICES
from web.tasks_api import tasks_changed
from web.templating import gettext, user_zone

# minutes before the due time; 0 = at the due time
REMIND_CHOICES = (0, 5, 15, 30, 60, 1440)
KINDS = tuple(kind.value for kind in TaskKind)
BAD_DATE = "Enter a date and a time, e.g. 25.12.2026 14:30."


def parse_day(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


@requires(*ANYONE_SIGNED_IN)
async def my_day(request: web.Request) -> web.StreamResponse:
    reader = me(request)
    zone = user_zone()
    now = datetime.now(UTC)
    day = parse_day(request.query.get("day", ""), today_in(zone, now))
    services = request.app[SERVICES]
    async with services.db() as session:
        owner = reader
        if "user" in request.query:
            owner_id = int_param(request, "user")
            if owner_id != reader.id:
                if not is_leader(reader):
                    raise web.HTTPForbidden(text="only leaders see someone else's day")
                found = await session.get(User, owner_id)
                if found is None:
                    raise web.HTTPNotFound(text="no such user")
                owner = found
        board = await operator_day(session, reader, owner.id, day, zone, now)
        fmt = requested_format(request)
        if fmt is not None:
            return await _day_file(request, session, fmt, owner, board)
    query = {} if owner.id == reader.id else {"user": owner.id}
    context = page_context(
        request,
        board=board,
        owner=owner,
        own=owner.id == reader.id,
        now=now,
        day_link=lambda d: "/tasks?" + urlencode({**query, "day": d.isoformat()}),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        back=request.path_qs,
        downloads=download_links(request) if is_leader(reader) else None,
    )
    return aiohttp_jinja2.render_template("tasks/day.html", request, context)


TASK_COLUMNS = ("ID", "Type", "Title", "Status", "Due at", "Done at", "Client", "overdue", "Notes")
KIND_LABELS = {"callback": "Callback", "meeting": "Meeting", "follow_up": "Follow-up call"}
STATUS_LABELS = {"open": "Open", "done": "Completed", "cancelled": "Cancelled"}


async def _day_file(
    request: web.Request, session: AsyncSession, fmt: ExportFormat, owner: User, board: OperatorDay
) -> web.StreamResponse:
    """The day's tasks as shown (the agenda, the undated, the done) as a file; leaders
    only, like every export of clients' data."""
    reader = me(request)
    if not is_leader(reader):
        raise web.HTTPForbidden(text="only leaders export lists")
    zone = user_zone()
    rows = [
        (
            line.id,
            gettext(KIND_LABELS.get(line.kind, "To-do")),
            line.title,
            gettext(STATUS_LABELS.get(line.status, line.status)),
            local_time(line.due_at, zone),
            local_time(line.done_at, zone),
            line.contact_name,
            gettext("yes") if line.overdue else "",
            line.notes,
        )
        for line in (*board.agenda, *board.undated, *board.done)
    ]
    await audit.record(
        session,
        reader,
        "tasks.export",
        "user",
        owner.id,
        ip=request.remote,
        day=board.day.isoformat(),
        rows=len(rows),
    )
    await session.commit()
    header = [gettext(column) for column in TASK_COLUMNS]
    stem = f"tasks-{owner.id}-{board.day.isoformat()}"
    return list_file(fmt, stem, gettext("Tasks"), header, rows)


@requires(*ANYONE_SIGNED_IN)
async def new_task_form(request: web.Request) -> web.StreamResponse:
    reader = me(request)
    zone = user_zone()
    now = datetime.now(UTC).astimezone(zone)
    default_day = parse_day(request.query.get("day", ""), now.date())
    values = {
        "kind": request.query.get("kind", "callback"),
        "title": "",
        "due_date": default_day.isoformat(),
        "due_time": (now + timedelta(hours=1)).strftime("%H:00"),
        "remind": "0",
        "assignee_id": str(reader.id),
        "contact_id": "",
        "notes": "",
    }
    if request.query.get("contact_id", "").isdigit():
        values["contact_id"] = request.query["contact_id"]
    return await _render_form(request, values, {})


@requires(*ANYONE_SIGNED_IN)
async def new_task_submit(request: web.Request) -> web.StreamResponse:
    actor = me(request)
    form = await request.post()
    values = {name: str(form.get(name, ""))[:6000] for name in _FORM_FIELDS}
    errors: dict[str, str] = {}
    draft = _draft(values, actor, errors)
    if errors or draft is None:
        return await _render_form(request, values, errors, status=400)
    services = request.app[SERVICES]
    async with services.db() as session:
        try:
            task = await create_task(session, actor, draft)
        except TaskInputError as exc:
            return await _render_form(request, values, exc.errors, status=400)
        await session.commit()
        payload = await task_payload(session, task)
    _tell(request.app, actor, payload, task.remind_at)
    target: dict[str, str] = {}
    if task.due_at is not None:
        target["day"] = task.due_at.astimezone(user_zone()).date().isoformat()
    if task.assignee_id not in (None, actor.id):
        target["user"] = str(task.assignee_id)
    raise web.HTTPSeeOther("/tasks" + ("?" + urlencode(target) if target else ""))


@requires(*ANYONE_SIGNED_IN)
async def mark_done(request: web.Request) -> web.StreamResponse:
    return await _change(request, {"status": TaskStatus.DONE.value})


@requires(*ANYONE_SIGNED_IN)
async def mark_cancelled(request: web.Request) -> web.StreamResponse:
    return await _change(request, {"status": TaskStatus.CANCELLED.value})


@requires(*ANYONE_SIGNED_IN)
async def take(request: web.Request) -> web.StreamResponse:
    return await _change(request, {"assignee_id": me(request).id})


@requires(*LEADERS)
async def load_page(request: web.Request) -> web.StreamResponse:
    now = datetime.now(UTC)
    async with request.app[SERVICES].db() as session:
        load = await team_load(session, user_zone(), now)
    context = page_context(request, load=load)
    return aiohttp_jinja2.render_template("tasks/load.html", request, context)


# -- helpers ---------------------------------------------------------------------------

_FORM_FIELDS = (
    "kind",
    "title",
    "due_date",
    "due_time",
    "remind",
    "assignee_id",
    "contact_id",
    "notes",
)


def _tell(app: web.Application, actor: User, payload: dict[str, Any], remind_at: Any) -> None:
    # a task one gives oneself needs no "new task" toast: the page one returns to lists it
    if payload["assignee_id"] != actor.id:
        announce(app[HUB], payload)
    tasks_changed(app, remind_at)


def _draft(values: dict[str, str], actor: User, errors: dict[str, str]) -> TaskDraft | None:
    due_at: datetime | None = None
    if values["due_date"] or values["due_time"]:
        try:
            due_day = date.fromisoformat(values["due_date"])
            due_time = time.fromisoformat(values["due_time"])
            due_at = datetime.combine(due_day, due_time, user_zone())
        except ValueError:
            errors["due_at"] = BAD_DATE
    remind = int(values["remind"]) if values["remind"].isdigit() else 0
    remind_at = None
    if due_at is not None and remind in REMIND_CHOICES:
        remind_at = due_at - timedelta(minutes=remind)
    assignee_id = whole_number(values["assignee_id"])
    if errors:
        return None
    return TaskDraft(
        kind=values["kind"],
        title=values["title"],
        assignee_id=actor.id if assignee_id is None else assignee_id,
        due_at=due_at,
        remind_at=remind_at,
        contact_id=whole_number(values["contact_id"]),
        notes=values["notes"],
    )


async def _render_form(
    request: web.Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> web.StreamResponse:
    reader = me(request)
    async with request.app[SERVICES].db() as session:
        contact = await chosen_client(session, reader, values["contact_id"])
        if is_leader(reader):
            rows = await session.execute(
                select(User.id, User.full_name)
                .where(User.is_active.is_(True))
                .order_by(User.full_name)
            )
            assignees = [{"id": user_id, "name": name} for user_id, name in rows]
        else:
            assignees = [{"id": reader.id, "name": reader.full_name}]
    if contact is None:
        values = {**values, "contact_id": ""}
    context = page_context(
        request,
        values=values,
        errors=errors,
        kinds=KINDS,
        remind_choices=REMIND_CHOICES,
        assignees=assignees,
        contact=contact,
    )
    return aiohttp_jinja2.render_template("tasks/new.html", request, context, status=status)


async def _change(request: web.Request, values: dict[str, Any]) -> web.StreamResponse:
    actor = me(request)
    task_id = int_param(request, "id")
    form: MultiDictProxy[Any] = await request.post()
    back = str(form.get("back", ""))
    services = request.app[SERVICES]
    async with services.db() as session:
        task = await session.get(Task, task_id, with_for_update=True)
        if task is None:
            raise web.HTTPNotFound(text="no such task")
        if not may_change(actor, task):
            raise web.HTTPForbidden(text="this task is someone else's")
        try:
            reassigned = await change_task(
                session, actor, task, TaskChange(values), datetime.now(UTC)
            )
        except TaskInputError as exc:
            raise web.HTTPConflict(text="; ".join(exc.errors.values())) from None
        await session.commit()
        payload = await task_payload(session, task) if reassigned else None
    if payload is not None:
        _tell(request.app, actor, payload, task.remind_at)
    # only back to a task page of this site: never an open redirect
    raise web.HTTPSeeOther(back if back.startswith("/tasks") else "/tasks")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/tasks", my_day)
    app.router.add_get("/tasks/new", new_task_form)
    app.router.add_post("/tasks/new", new_task_submit)
    app.router.add_get("/tasks/load", load_page)
    app.router.add_post(r"/tasks/{id:\d+}/done", mark_done)
    app.router.add_post(r"/tasks/{id:\d+}/cancel", mark_cancelled)
    app.router.add_post(r"/tasks/{id:\d+}/take", take)
    tasks_api.add_routes(app)
