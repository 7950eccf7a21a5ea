"""WS /v1/conversations/{id}/stream: pushes `message.created` for one conversation.

The token comes in the header USER_AUTH_HEADER names (Authorization, or X-Forwarded-Authorization behind API
Gateway), or, from browsers (which cannot set headers on a WebSocket), as
the subprotocol pair `["bearer", <token>]`. Never in the URL: request logs (Cloud Run's included) record URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from app.api.realtime import OVERFLOW
from app.api.service import NotFound
from app.common.security import authenticate, user_token

router = APIRouter(tags=["messages"])

GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
# A stream ends this long (at most a tenth of the limit) before the platform's request timeout would cut it, with
# a close frame the client answers by reconnecting and catching up with GET /messages?cursor=...
CLOSE_MARGIN_SECONDS = 10.0


def stream_budget(request_timeout: float | None) -> float | None:
    """How long one stream may stay open under the platform's request timeout (None: no limit)."""
    if request_timeout is None:
        return None
    return request_timeout - min(CLOSE_MARGIN_SECONDS, request_timeout / 10)


async def _until_disconnect(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()


def _token(ws: WebSocket) -> tuple[str | None, str | None]:
    """The access token, and the subprotocol to confirm if the token came as one."""
    protocols = ws.scope.get("subprotocols") or []
    if len(protocols) == 2 and protocols[0] == "bearer":
        return protocols[1], "bearer"
    return user_token(ws), None


@router.websocket("/v1/conversations/{conversation_id}/stream")
async def stream(ws: WebSocket, conversation_id: UUID) -> None:
    token, subprotocol = _token(ws)
    try:
        principal = await authenticate(ws, token)
        await ws.app.state.api.get_conversation(principal.user_id, conversation_id)
    except (HTTPException, NotFound):
        await ws.close(code=POLICY_VIOLATION)
        return
    # Subscribe before accepting so nothing published after the client sees the handshake is missed.
    async with ws.app.state.hub.subscribe(str(conversation_id)) as queue:
        await ws.accept(subprotocol=subprotocol)
        client = asyncio.create_task(_until_disconnect(ws))
        loop = asyncio.get_running_loop()
        budget = stream_budget(ws.app.state.settings.request_timeout_seconds)
        ends_at = None if budget is None else loop.time() + budget
        try:
            while True:
                next_item = asyncio.create_task(queue.get())
                remaining = None if ends_at is None else max(0.0, ends_at - loop.time())
                done, _ = await asyncio.wait(
                    {next_item, client}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # Cloud Run's request timeout is near: close cleanly rather than be cut
                    next_item.cancel()
                    await ws.close(code=GOING_AWAY, reason="stream time limit: reconnect")
                    return
                if client in done:
                    next_item.cancel()
                    return
                data = next_item.result()
                if data == OVERFLOW:
                    await ws.close(code=TRY_AGAIN_LATER)
                    return
                await ws.send_text(data)
        except WebSocketDisconnect:
            return
        finally:
            client.cancel()
