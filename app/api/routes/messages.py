from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.cursors import BadCursor
from app.api.deps import AUTH, NOT_FOUND, Service, UserId, cached_json
from app.api.schemas import Message, MessageIn, MessagePage
from app.api.service import IdempotencyKeyReused, NotFound

router = APIRouter(prefix="/v1/conversations/{conversation_id}/messages", tags=["messages"], responses=AUTH)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying a POST with the same key returns the first result instead of a duplicate.",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=Message,
    responses={**NOT_FOUND, 422: {"description": "invalid body, or Idempotency-Key reused for another body"}},
)
async def post_message(
    conversation_id: UUID,
    body: MessageIn,
    uid: UserId,
    service: Service,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    settings = request.app.state.settings
    usage = await request.app.state.resources.limiter.hit(f"msg:user:{uid}", 60)
    if usage.exceeded(settings.message_writes_per_minute):
        raise HTTPException(429, "too many messages, retry later", headers={"Retry-After": str(usage.retry_after)})
    try:
        created = await service.post_message(uid, conversation_id, body.role, body.content, idempotency_key)
    except NotFound:
        raise HTTPException(404, "conversation not found") from None
    except IdempotencyKeyReused:
        raise HTTPException(422, "Idempotency-Key was already used for a different request") from None
    headers = {"Idempotent-Replayed": "true"} if created.replayed else None
    return JSONResponse(created.body, status_code=201, headers=headers)


@router.get("", response_model=MessagePage, responses=NOT_FOUND)
async def list_messages(
    conversation_id: UUID,
    uid: UserId,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    try:
        return cached_json(await service.page_messages(uid, conversation_id, limit, cursor))
    except NotFound:
        raise HTTPException(404, "conversation not found") from None
    except BadCursor:
        raise HTTPException(422, "invalid cursor") from None
