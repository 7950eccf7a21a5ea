"""One error shape for every 4xx and 5xx: `{"detail": str, "request_id": str | null, "errors"?: [...]}`.

`detail` is one line saying what is wrong (and how to fix it); `errors` lists the invalid fields of a 422. Bodies
never carry internals. The shape is `ErrorBody`, declared in each service's OpenAPI document (`document_errors`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.db import ConstraintViolation
from app.common.route_table import route_table

log = logging.getLogger("app.errors")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, then the field path.")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error response of the services."""

    detail: str = Field(description="What is wrong, in one line.")
    request_id: str | None = Field(None, description="Quote it when reporting a problem (also in X-Request-ID).")
    errors: list[FieldError] | None = Field(None, description="422 only: each invalid field.")


def _request_id(scope: Scope) -> str | None:
    return scope.get("state", {}).get("request_id")


def error_body(scope: Scope, detail: object, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail if isinstance(detail, str) else str(detail)}
    body["request_id"] = _request_id(scope)
    if errors is not None:
        body["errors"] = errors
    return body


def error_response(
    request: Request, status: int, detail: object, headers: dict | None = None, errors: list | None = None
) -> JSONResponse:
    return JSONResponse(error_body(request.scope, detail, errors), status_code=status, headers=headers)


# What FastAPI raises (as a 400) for a body it cannot decode, e.g. bytes that are not UTF-8.
_FASTAPI_UNDECODABLE = "There was an error parsing the body"


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette's own 405 names only the first route's."""
    methods: set[str] = set()
    for route in route_table(request.app):
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    if exc.status_code == 400 and exc.detail == _FASTAPI_UNDECODABLE:
        return error_response(request, 400, "the request body is not valid UTF-8 JSON", headers)
    return error_response(request, exc.status_code, exc.detail, headers)


def _where(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default echoes the offending input back (a password, a token); keep only where and why.
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(request, 422, f"{_where(first['loc'])}: {first['msg']}{more}", errors=errors)


async def _constraint(request: Request, exc: ConstraintViolation) -> JSONResponse:
    return error_response(request, exc.status, exc.detail)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency unavailable: %s", type(exc).__name__)
    return error_response(request, 503, "service temporarily unavailable", {"Retry-After": "1"})


class CatchAll:
    """Answers the unexpected with a generic 500 itself, inside the app.

    Starlette's outermost handler would send the 500 and then re-raise, so the server logged the error a second
    time and, seeing an exception after a complete response, closed the keep-alive connection under the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half a response is out: only the server can end it (by closing the connection)
            log.error("unhandled error", exc_info=exc)
            body = json.dumps(error_body(scope, "internal server error")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI) -> None:
    # Starlette types handlers as taking `Exception`; each of ours takes the subclass it is registered for.
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(ConstraintViolation, _constraint)  # type: ignore[arg-type]
    for exc_type in (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        psycopg_pool.PoolTimeout,
        psycopg_pool.TooManyRequests,
    ):
        app.add_exception_handler(exc_type, _unavailable)
    app.add_middleware(CatchAll)


# Status -> what it means wherever it appears; each is declared once under components/responses.
ERROR_RESPONSES: dict[int, str] = {
    400: "The request body is not valid UTF-8 JSON.",
    401: "Missing or invalid access token.",
    404: "Not found (or not yours).",
    409: "Conflict: a record the request refers to no longer exists, or one like it already exists.",
    413: "The request body, or an input in it, is larger than its budget (the detail names it).",
    422: "The request is invalid; `errors` lists each invalid field.",
    429: "A rate or budget is spent; retry after `Retry-After` seconds.",
    500: "Unexpected error; quote `request_id` when reporting it.",
    503: "A dependency is unavailable; retry after `Retry-After` seconds.",
}
_WRITES = {"post", "put", "patch", "delete"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def _possible_errors(method: str, operation: dict[str, Any]) -> set[int]:
    """The statuses any operation of this kind can answer besides its own: the error handlers' and middleware's."""
    statuses = {500, 503}
    if operation.get("requestBody"):
        statuses |= {400, 413, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if operation.get("security") and method in _WRITES:
        statuses.add(409)  # e.g. the user of a still-valid token was deleted: see ConstraintViolation
    return statuses


def _is_fastapi_default(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def document_errors(app: FastAPI) -> None:
    """Declare `ErrorBody` in the app's OpenAPI document as the body of every 4xx and 5xx, through
    components/responses, replacing FastAPI's default 422 schema (which our handler does not produce)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorBody"] = error_schema
        components["responses"] = {f"Error{s}": _error_response(s, d) for s, d in ERROR_RESPONSES.items()}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                responses = operation.setdefault("responses", {})
                for status in _possible_errors(method, operation):
                    responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
                for status, response in responses.items():
                    if status == "422" and _is_fastapi_default(response):
                        responses[status] = {"$ref": "#/components/responses/Error422"}
                    elif status[:1] in "45" and "$ref" not in response and "content" not in response:
                        # The operation's own wording, the one error shape (a response with a model of its own,
                        # like /ready's 503, keeps it).
                        responses[status] = _error_response(int(status), response.get("description", ""))
                operation["responses"] = dict(sorted(responses.items()))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
