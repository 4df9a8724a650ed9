"""``/api/v1/tasks``: list, create and change tasks (times are ISO 8601 with an offset)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from callcenter.models import Task, TaskKind, TaskStatus, User
from callcenter.reminders import ReminderWake
from callcenter.task_board import day_bounds, task_line, task_list
from callcenter.task_edits import (
    MAX_NOTES,
    TaskChange,
    TaskDraft,
    TaskInputError,
    change_task,
    create_task,
    is_leader,
    may_change,
)
from callcenter.tasks import MAX_TITLE, announce, task_payload
from web.auth import ANYONE_SIGNED_IN, requires
from web.json_api import error_response, int_param, invalid_input, json_body, me, refusal
from web.openapi import documented
from web.state import HUB, SERVICES
from web.templating import user_zone

# set by the process that runs the reminder loop; without it reminders still go out
# (the loop looks again at least every 30 s), only later
REMINDERS = web.AppKey("reminders", ReminderWake)
STATUSES = tuple(status.value for status in TaskStatus)
# times outside these years are typing mistakes (and beyond what the database keeps)
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

_MOMENT = {"type": ["string", "null"], "format": "date-time"}
_ID = {"type": ["integer", "null"], "minimum": 1}
_TASK_FIELDS: dict[str, Any] = {
    "kind": {"type": "string", "enum": [kind.value for kind in TaskKind]},
    "title": {"type": "string", "maxLength": MAX_TITLE},
    "due_at": _MOMENT,
    "remind_at": _MOMENT,
    "assignee_id": _ID,
    "contact_id": _ID,
    "notes": {"type": ["string", "null"], "maxLength": MAX_NOTES},
    "status": {"type": "string", "enum": ["done", "cancelled"]},
}
_CREATE_FIELDS = {"kind", "title", "due_at", "remind_at", "assignee_id", "contact_id", "notes"}
_PATCH_FIELDS = {"status", "title", "due_at", "remind_at", "assignee_id", "notes"}
_NEW_TASK = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {name: _TASK_FIELDS[name] for name in sorted(_CREATE_FIELDS)},
}
_TASK_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {name: _TASK_FIELDS[name] for name in sorted(_PATCH_FIELDS)},
}
_LIST_QUERY: dict[str, dict[str, Any]] = {
    "status": {"type": "string", "enum": ["open", "done", "cancelled", "all"]},
    "day": {"type": "string", "format": "date"},
    "assignee": {"type": "string", "description": "a user id, or none (leaders only)"},
}


@requires(*ANYONE_SIGNED_IN)
@documented(query=_LIST_QUERY)
async def list_tasks(request: web.Request) -> web.StreamResponse:
    """My tasks (leaders: anyone's, or ``assignee=none``), filtered by status and due day."""
    reader = me(request)
    assignee: int | None = reader.id
    if "assignee" in request.query:
        wanted = request.query["assignee"]
        assignee = None if wanted == "none" else int_param(request, "assignee")
        if assignee != reader.id and not is_leader(reader):
            return error_response(403, "only leaders see someone else's tasks")
    status: str | None = request.query.get("status", TaskStatus.OPEN.value)
    if status == "all":
        status = None
    elif status not in STATUSES:
        return error_response(400, "bad filter", status="open, done, cancelled or all")
    between = None
    if "day" in request.query:
        try:
            between = day_bounds(date.fromisoformat(request.query["day"]), user_zone())
        except ValueError:
            return error_response(400, "bad filter", day="a date like 2026-12-25")
    async with request.app[SERVICES].db() as session:
        lines = await task_list(
            session,
            reader,
            datetime.now(UTC),
            assignee_id=assignee,
            status=status,
            due_between=between,
        )
    return web.json_response({"tasks": [line.as_json() for line in lines]})


@requires(*ANYONE_SIGNED_IN)
@documented(body=_NEW_TASK, status=201)
async def create(request: web.Request) -> web.StreamResponse:
    """Create a task (assignee defaults to me; operators may assign only to themselves)."""
    actor = me(request)
    body = await _object(request, _CREATE_FIELDS)
    errors: dict[str, str] = {}
    draft = TaskDraft(
        kind=_text(body, "kind", errors) or "todo",
        title=_text(body, "title", errors) or "",
        assignee_id=_id(body, "assignee_id", errors) if "assignee_id" in body else actor.id,
        due_at=_moment(body, "due_at", errors),
        remind_at=_moment(body, "remind_at", errors),
        contact_id=_id(body, "contact_id", errors),
        notes=_text(body, "notes", errors),
    )
    if errors:
        return error_response(400, "the task was not created", **errors)
    async with request.app[SERVICES].db() as session:
        try:
            task = await create_task(session, actor, draft)
        except TaskInputError as exc:
            return invalid_input(exc, "the task was not created")
        await session.commit()
        payload = await task_payload(session, task)
        line = await task_line(session, actor, task, datetime.now(UTC))
    _tell(request.app, actor, payload, task)
    return web.json_response({"task": line.as_json()}, status=201)


@requires(*ANYONE_SIGNED_IN)
@documented(body=_TASK_CHANGE)
async def patch(request: web.Request) -> web.StreamResponse:
    """Change a task: status done/cancelled, due_at, remind_at, title, notes, assignee_id."""
    actor = me(request)
    task_id = int_param(request, "id")
    body = await _object(request, _PATCH_FIELDS)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in body:
        if name in ("due_at", "remind_at"):
            values[name] = _moment(body, name, errors)
        elif name == "assignee_id":
            values[name] = _id(body, name, errors)
        elif name == "title":
            values[name] = _text(body, name, errors) or ""
        else:
            values[name] = _text(body, name, errors)
    if errors:
        return error_response(400, "the task was not changed", **errors)
    async with request.app[SERVICES].db() as session:
        task = await session.get(Task, task_id, with_for_update=True)
        if task is None:
            return error_response(404, "no such task")
        if not may_change(actor, task):
            return error_response(403, "this task is someone else's")
        old_remind_at = task.remind_at
        try:
            reassigned = await change_task(
                session, actor, task, TaskChange(values), datetime.now(UTC)
            )
        except TaskInputError as exc:
            return invalid_input(exc, "the task was not changed")
        await session.commit()
        payload = await task_payload(session, task)
        line = await task_line(session, actor, task, datetime.now(UTC))
    if reassigned:
        _tell(request.app, actor, payload, task)
    elif task.remind_at != old_remind_at:
        tasks_changed(request.app, task.remind_at)
    return web.json_response({"task": line.as_json()})


def _tell(app: web.Application, actor: User, payload: dict[str, Any], task: Task) -> None:
    if payload["assignee_id"] != actor.id:
        announce(app[HUB], payload)
    tasks_changed(app, task.remind_at)


def tasks_changed(app: web.Application, remind_at: datetime | None) -> None:
    """Tell the reminder loop a task's reminder time is new (it may be sooner)."""
    loop = app.get(REMINDERS)
    if loop is not None:
        loop.wake(remind_at)


async def _object(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise refusal(web.HTTPBadRequest, "send a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        body = {"error": "unknown fields", "fields": dict.fromkeys(unknown, "not a task field")}
        raise web.HTTPBadRequest(text=json.dumps(body), content_type="application/json")
    return body


def _text(body: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and "\x00" not in value:
        try:
            value.encode()  # a lone surrogate from JSON cannot be stored
            return value
        except UnicodeEncodeError:
            pass
    errors[name] = "expected text"
    return None


def _id(body: dict[str, Any], name: str, errors: dict[str, str]) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**62:
        return value
    errors[name] = "expected a positive whole number or null"
    return None


def _moment(body: dict[str, Any], name: str, errors: dict[str, str]) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors[name] = "expected an ISO 8601 time with an offset, e.g. 2026-12-25T14:30:00+03:00"
        return None
    if not EARLIEST <= moment < LATEST:
        errors[name] = "expected a time between the years 2000 and 2099"
        return None
    return moment


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tasks", list_tasks)
    app.router.add_post("/api/v1/tasks", create)
    app.router.add_patch(r"/api/v1/tasks/{id:\d+}", patch)
