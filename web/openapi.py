"""The OpenAPI document of ``/api/v1``, generated from the route table.

Nothing is listed by hand, so a new route is documented the moment it exists: its
path and parameters come from the router, its summary from the handler's docstring,
who may call it from ``@requires`` and, where a handler declares them with
``@documented``, the shapes of its body and answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from web.security import Handler

API_PREFIX = "/api/v1/"
OPENAPI_PATH = "/api/v1/openapi.json"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def documented(
    *,
    body: dict[str, Any] | None = None,
    query: dict[str, dict[str, Any]] | None = None,
    answer: dict[str, Any] | None = None,
    status: int = 200,
) -> Callable[[Handler], Handler]:
    """Declare a route's JSON body, query parameters and successful answer (JSON Schema)."""

    def mark(handler: Handler) -> Handler:
        handler.openapi = {  # type: ignore[attr-defined]
            "body": body,
            "query": query or {},
            "answer": answer or ANY_OBJECT,
            "status": status,
        }
        return handler

    return mark


def _attribute(handler: Any, name: str) -> Any:
    """An attribute set on the handler or on any function it wraps."""
    while handler is not None:
        if hasattr(handler, name):
            return getattr(handler, name)
        handler = getattr(handler, "__wrapped__", None)
    return None


def _summary(handler: Any) -> str:
    doc = (handler.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else handler.__name__.replace("_", " ")


def _path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for name in _PLACEHOLDER.findall(path):
        numeric = name == "id" or name.endswith("_id")
        schema = {"type": "integer", "minimum": 1} if numeric else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    declared = _attribute(handler, "openapi") or {}
    roles = _attribute(handler, "allowed_roles")
    public_by_token = bool(_attribute(handler, "public_by_token"))
    status = str(declared.get("status", 201 if method == "post" else 200))
    responses: dict[str, Any] = {
        status: {
            "description": "done",
            "content": {"application/json": {"schema": declared.get("answer", ANY_OBJECT)}},
        },
        "400": {"description": "invalid input", "content": _json(ERROR)},
        "401": {"description": "no valid session or token"},
        "404": {"description": "no such thing"},
        "503": {"description": "telephony, or the part of it this needs, is not running"},
    }
    if roles is not None:
        responses["403"] = {"description": "not for your role"}
    if method in ("post", "patch", "put"):
        responses["409"] = {"description": "conflicts with what is stored", "content": _json(ERROR)}
        responses["415"] = {"description": "send application/json"}
        responses["429"] = {"description": "too many requests"}
    operation: dict[str, Any] = {
        "operationId": f"{method}_{handler.__name__}",
        "summary": _summary(handler),
        "responses": responses,
        "parameters": _path_parameters(path)
        + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in declared.get("query", {}).items()
        ],
    }
    if roles is not None:
        operation["x-roles"] = list(roles) or ["any signed-in user"]
    if public_by_token:
        operation["security"] = [{"siteToken": []}]
    if method in ("post", "patch", "put"):
        body = declared.get("body") or ANY_OBJECT
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        info = route.resource.canonical if route.resource is not None else ""
        method = route.method.lower()
        if not info.startswith(API_PREFIX) or info == OPENAPI_PATH or method == "head":
            continue
        if method not in ("get", "post", "patch", "put", "delete"):
            continue
        path = _PLACEHOLDER.sub(lambda m: "{" + m.group(1) + "}", info)
        paths.setdefault(path, {})[method] = _operation(method, path, route.handler)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Callcenter API",
            "version": "1",
            "description": "Send an API token (issued on your profile page) as a bearer token.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
                "siteToken": {"type": "http", "scheme": "bearer"},
            }
        },
        "security": [{"apiToken": []}, {"session": []}],
    }


async def openapi_document(request: web.Request) -> web.StreamResponse:
    """The API's description; it holds no data, so it is served to anyone."""
    return web.json_response(build_document(request.app))


def add_routes(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, openapi_document)
