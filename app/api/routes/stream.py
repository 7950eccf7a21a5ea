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

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


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
        try:
            while True:
                next_item = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({next_item, client}, return_when=asyncio.FIRST_COMPLETED)
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
