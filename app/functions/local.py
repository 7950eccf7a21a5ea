"""The bundled Cloud Functions inside `grid local`: the same functions-framework apps, served on the local port
under /fn/<name>/, and ml-analytics fed from the local event bus as Pub/Sub would push to it.

Only `grid local` imports this; the deployed functions are their source directories alone.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from app.common.streams import StreamConsumer, StreamEvent

log = logging.getLogger("app.functions.local")

ANALYTICS_GROUP = "ml-analytics"


class WsgiApp:
    """A minimal ASGI -> WSGI bridge for small JSON functions: reads the whole body, runs the WSGI app in a
    worker thread (functions-framework apps are synchronous), and sends the whole response."""

    def __init__(self, wsgi: Any, max_body: int = 8 * 1_048_576) -> None:
        self.wsgi = wsgi
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _send(
                    send, 413, b'{"detail": "request body too large"}', [(b"content-type", b"application/json")]
                )
                return
        try:
            status, headers, payload = await asyncio.to_thread(self._run, scope, bytes(body))
        except Exception:
            # Answered here, once: an exception escaping to the server would be logged again and would close the
            # client's keep-alive connection.
            log.exception("function failed")
            status, headers, payload = 500, [(b"content-type", b"application/json")], b'{"detail": "internal error"}'
        await _send(send, status, payload, headers)

    def _run(self, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        server = scope.get("server") or ("127.0.0.1", 80)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": "",
            "PATH_INFO": scope["path"],
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = value.decode("latin-1")
                continue
            environ[f"HTTP_{key}"] = value.decode("latin-1")
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            return lambda data: None

        chunks = self.wsgi(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        headers = [(k, v) for k, v in started["headers"] if k != b"content-length"]
        return started["status"], headers, payload


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def public_apps(functions: dict[str, Any]) -> dict[str, WsgiApp]:
    """Every function as an ASGI app by name. Which of their paths the local port serves is the cloud's routing
    (stacks/routes.py: ml-analytics' ingest and report are not public); `AnalyticsFeed` delivers to ml-analytics
    directly, as Pub/Sub push does."""
    return {name: WsgiApp(app) for name, app in functions.items()}


def load_functions(database_url: str, functions: dict[str, tuple[Path, str]]) -> dict[str, Any]:
    """name -> the function's Flask app, loaded by functions-framework exactly as on Cloud Functions, for each
    ``name -> (source directory, entry point)`` (grid local passes the workload registry's functions)."""
    from functions_framework import create_app

    # The functions read their configuration from the environment, as deployed (stacks/service_env.py).
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("ENVIRONMENT", "local")
    return {
        name: create_app(target=entry, source=str(directory / "main.py"))
        for name, (directory, entry) in functions.items()
    }


class AnalyticsFeed:
    """Delivers message.created events from the local Redis stream to ml-analytics as Pub/Sub push envelopes,
    through the function's own HTTP handler; a non-2xx answer leaves the events pending for redelivery, as a
    push subscription would retry."""

    def __init__(self, redis_url: str, stream: str, analytics_app: Any) -> None:
        self.client = analytics_app.test_client()
        self.consumer = StreamConsumer(redis_url, stream, ANALYTICS_GROUP, self.deliver)

    def start(self) -> None:
        self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def deliver(self, events: list[StreamEvent]) -> None:
        for event in events:
            envelope = {
                "message": {
                    "data": base64.b64encode(json.dumps(event.data).encode()).decode(),
                    "attributes": {"type": event.type, "id": event.id, "time": event.time},
                    "messageId": event.stream_id,
                    "publishTime": event.time,
                },
                "subscription": "local/ml-analytics",
            }
            resp = await asyncio.to_thread(self.client.post, "/fn/ml-analytics/events", json=envelope)
            if resp.status_code >= 300:
                raise RuntimeError(f"ml-analytics answered {resp.status_code}")
