"""One pure-ASGI middleware: request id, trace context, body-size limit, Cache-Control and the optional access log.

Pure ASGI rather than BaseHTTPMiddleware because it runs on every request and must stay cheap.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common import caching
from app.common.errors import error_body
from app.common.logging import RequestContext, request_context

log = logging.getLogger("app.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?(?:;o=([01]))?")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing re-raises it untouched and the handler answers 413."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


def _trace_from_headers(headers: dict[bytes, bytes]) -> tuple[str | None, str | None, bool]:
    raw = headers.get(b"traceparent")
    if raw and (m := _TRACEPARENT.match(raw.decode("latin-1"))):
        return m.group(1), m.group(2), m.group(3) == "01"
    raw = headers.get(b"x-cloud-trace-context")
    if raw and (m := _CLOUD_TRACE.match(raw.decode("latin-1"))):
        return m.group(1), m.group(2), m.group(3) == "1"
    return None, None, False


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        trace_id, span_id, sampled = _trace_from_headers(headers)
        token = request_context.set(RequestContext(request_id, trace_id, span_id, sampled))
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 0
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await _send_413(send, scope)
                status = 413
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise BodyTooLarge()
                return message

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    out = caching.with_cache_control(
                        list(message.get("headers", [])), caching.for_response(scope, status)
                    )
                    message["headers"] = [*out, (b"x-request-id", request_id.encode())]
                await send(message)

            await self.app(scope, limited_receive, send_with_id)
        finally:
            if self.access_log:
                _log_access(scope, headers, status, time.perf_counter() - start)
            request_context.reset(token)


async def _send_413(send: Send, scope: Scope) -> None:
    request_id = scope["state"]["request_id"]
    body = json.dumps(error_body(scope, "request body too large")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"cache-control", caching.NO_STORE.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _log_access(scope: Scope, headers: dict[bytes, bytes], status: int, seconds: float) -> None:
    client: Any = scope.get("client") or ("", 0)
    # The path only: query strings can carry secrets or personal data and must not be logged.
    path = scope.get("path", "")
    method = scope.get("method", "WS")
    log.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "httpRequest": {
                "requestMethod": method,
                "requestUrl": path,
                "status": status,
                "latency": f"{seconds:.6f}s",
                "remoteIp": client[0],
                "userAgent": headers.get(b"user-agent", b"").decode("latin-1")[:256],
            }
        },
    )
