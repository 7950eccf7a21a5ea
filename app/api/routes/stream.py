"""WS /v1/conversations/{id}/stream: pushes `message.created` for one conversation, resumable without gaps.

The token comes in the header USER_AUTH_HEADER names (Authorization, or X-Forwarded-Authorization behind API
Gateway), or, from browsers (which cannot set headers on a WebSocket), as
the subprotocol pair `["bearer", <token>]`. Never in the URL: request logs (Cloud Run's included) record URLs.

Every event carries the message's `cursor`. A client that reconnects passes the last one it saw as
`?cursor=...` and first receives every message created since, from Postgres, then live ones: in order, each
once. The same catch-up runs whenever the live feed may have dropped something: a gap in the sequence, or the
instance's pub/sub subscription being remade after a Redis outage.

The stream lives no longer than its token: it closes (1008) when the token expires or its session is revoked
(logout, refresh-family revocation, account deletion); the client signs in again and resumes from its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect

from app.api.cursors import BadCursor, decode_cursor
from app.api.realtime import OVERFLOW, RESYNC, message_event
from app.api.service import ApiService, NotFound
from app.common.security import Principal, authenticate, user_token

router = APIRouter(tags=["messages"])

GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
CATCH_UP_PAGE = 100
# A stream ends this long (at most a tenth of the limit) before the platform's request timeout would cut it, with
# a close frame the client answers by reconnecting with ?cursor= (it resumes without gaps).
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


async def _catch_up(ws: WebSocket, service: ApiService, uid: UUID, cid: UUID, last: int) -> int:
    """Send every message after `last` from Postgres; return the last seq sent."""
    while True:
        rows = await service.messages_after(uid, cid, last, CATCH_UP_PAGE)
        for row in rows:
            seq = row.pop("seq")
            await ws.send_text(message_event(row, seq))
            last = seq
        if len(rows) < CATCH_UP_PAGE:
            return last


async def _session_ended(ws: WebSocket, principal: Principal) -> str | None:
    """Why the stream must end now (token expired, session revoked), or None."""
    if principal.claims["exp"] <= time.time():
        return "token expired"
    sessions = getattr(ws.app.state, "sessions", None)
    if sessions is not None and not await sessions.live(principal.user_id, principal.claims):
        return "session ended"
    return None


def _next_check(ws: WebSocket, principal: Principal) -> float:
    sessions: Any = getattr(ws.app.state, "sessions", None)
    recheck = sessions.recheck if sessions is not None else 60.0
    return max(min(principal.claims["exp"] - time.time(), recheck), 0.0)


@router.websocket("/v1/conversations/{conversation_id}/stream")
async def stream(
    ws: WebSocket,
    conversation_id: UUID,
    cursor: Annotated[str | None, Query(max_length=64, description="Resume after this message's cursor.")] = None,
) -> None:
    token, subprotocol = _token(ws)
    service: ApiService = ws.app.state.api
    try:
        principal = await authenticate(ws, token)
        uid = principal.user_id
        await service.get_conversation(uid, conversation_id)
        resume_after = decode_cursor(cursor) if cursor else None
    except (HTTPException, NotFound, BadCursor):
        await ws.close(code=POLICY_VIOLATION)
        return
    # Subscribe before reading the position so nothing committed after that read is missed.
    async with ws.app.state.hub.subscribe(str(conversation_id)) as queue:
        await ws.accept(subprotocol=subprotocol)
        if resume_after is None:
            last = await service.last_seq(uid, conversation_id)
        else:
            last = await _catch_up(ws, service, uid, conversation_id, resume_after)
        client = asyncio.create_task(_until_disconnect(ws))
        loop = asyncio.get_running_loop()
        budget = stream_budget(ws.app.state.settings.request_timeout_seconds)
        ends_at = None if budget is None else loop.time() + budget
        try:
            while True:
                next_item = asyncio.create_task(queue.get())
                remaining = None if ends_at is None else max(0.0, ends_at - loop.time())
                check = _next_check(ws, principal)
                done, _ = await asyncio.wait(
                    {next_item, client},
                    timeout=check if remaining is None else min(check, remaining),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done and ends_at is not None and loop.time() >= ends_at:
                    # Cloud Run's request timeout is near: close cleanly rather than be cut; the client resumes.
                    next_item.cancel()
                    await ws.close(code=GOING_AWAY, reason="stream time limit: reconnect")
                    return
                if client in done:
                    next_item.cancel()
                    return
                if next_item not in done:
                    next_item.cancel()
                    reason = await _session_ended(ws, principal)
                    if reason is not None:
                        await ws.close(code=POLICY_VIOLATION, reason=reason)
                        return
                    continue
                item = next_item.result()
                if item == OVERFLOW:
                    await ws.close(code=TRY_AGAIN_LATER)
                    return
                seq, data = item
                if item == RESYNC or seq > last + 1:
                    # Something may have been lost on the way: Postgres has it all (this one included).
                    last = await _catch_up(ws, service, uid, conversation_id, last)
                elif seq == last + 1:
                    await ws.send_text(data)
                    last = seq
                # seq <= last: already sent (replayed, or published twice).
        except WebSocketDisconnect:
            return
        finally:
            client.cancel()
