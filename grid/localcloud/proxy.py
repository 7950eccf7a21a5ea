"""Forwarding one ASGI request (HTTP or WebSocket) to an upstream URL: the hop every emulated Google front end
(Cloud Run's, the load balancer's, API Gateway's) makes. httpx streams HTTP bodies both ways; the `websockets`
client carries WebSocket frames. Only the ASGI glue is written here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import httpx
import websockets

# Hop-by-hop headers (RFC 9110 §7.6.1) never cross a proxy.
HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"content-length",
}  # fmt: skip
_WS_OWN = {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol"}

Headers = list[tuple[bytes, bytes]]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def client_ip(scope: dict[str, Any]) -> str:
    return (scope.get("client") or ("127.0.0.1", 0))[0]


async def respond(send: Any, scope: dict[str, Any], status: int, detail: str) -> None:
    """A JSON error from the emulated front end (a WebSocket is closed before it is accepted)."""
    if scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": []})
            await send({"type": "websocket.http.response.body", "body": detail.encode()})
        else:  # the server cannot answer the handshake with a status: refuse it (403)
            await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Forwarder:
    def __init__(self, timeout: float | None = None) -> None:
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def forward(
        self, scope: dict[str, Any], receive: Any, send: Any, upstream: str, headers: Iterable[tuple[bytes, bytes]]
    ) -> None:
        """Send the request in ``scope`` to ``upstream`` (base URL + path + query) with ``headers``."""
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = upstream.rstrip("/") + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, target, list(headers))
        else:
            await self._http(scope, receive, send, target, list(headers))

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any, target: str, headers: Headers) -> None:
        async def body() -> Any:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                more = message.get("more_body", False)

        request = self.http.build_request(
            scope["method"],
            target,
            headers=[(k, v) for k, v in headers if k not in HOP_BY_HOP],
            content=body(),
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TimeoutException:
            await respond(send, scope, 504, "upstream request timeout")
            return
        except httpx.HTTPError:
            await respond(send, scope, 503, "no healthy upstream")
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k.lower(), v)
                        for k, v in response.headers.raw
                        if k.lower() not in HOP_BY_HOP or k.lower() == b"content-length"
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any, target: str, headers: Headers) -> None:
        message = await receive()
        assert message["type"] == "websocket.connect"
        forwarded = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k not in HOP_BY_HOP and k not in _WS_OWN
        ]
        subprotocols = [p.strip() for p in (header(scope, b"sec-websocket-protocol") or "").split(",") if p.strip()]
        try:
            upstream = await websockets.connect(
                "ws" + target[len("http") :],
                additional_headers=forwarded,
                subprotocols=subprotocols or None,
                open_timeout=10,
                ping_interval=None,
                max_size=None,
            )
        except websockets.InvalidStatus as exc:
            await respond(send, scope, exc.response.status_code, exc.response.body.decode("latin-1") or "refused")
            return
        except (OSError, websockets.WebSocketException, TimeoutError):
            await respond(send, scope, 503, "no healthy upstream")
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

        async def client_to_upstream() -> None:
            while True:
                msg = await receive()
                if msg["type"] == "websocket.disconnect":
                    await upstream.close(msg.get("code", 1000))
                    return
                await upstream.send(msg["bytes"] if msg.get("bytes") is not None else msg.get("text", ""))

        async def upstream_to_client() -> None:
            try:
                async for data in upstream:
                    key = "bytes" if isinstance(data, bytes) else "text"
                    await send({"type": "websocket.send", key: data})
            except websockets.ConnectionClosed:
                pass
            code = upstream.close_code or 1000
            await send({"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""})

        tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
