from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse

from app.api.deps import AUTH, NOT_FOUND, Service, UserId, cached_json
from app.api.schemas import Conversation, ConversationIn, ConversationList
from app.api.service import NotFound

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=AUTH)


@router.post("", status_code=201, response_model=Conversation, responses=NOT_FOUND)
async def create_conversation(body: ConversationIn, uid: UserId, service: Service) -> Response:
    try:
        conv = await service.create_conversation(uid, body.agent_id, body.title)
    except NotFound:
        raise HTTPException(404, "agent not found") from None
    return JSONResponse(conv, status_code=201)


@router.get("", response_model=ConversationList)
async def list_conversations(uid: UserId, service: Service) -> Response:
    return cached_json(await service.list_conversations(uid))


@router.get("/{conversation_id}", response_model=Conversation, responses=NOT_FOUND)
async def get_conversation(conversation_id: UUID, uid: UserId, service: Service) -> Response:
    try:
        return cached_json(await service.get_conversation(uid, conversation_id))
    except NotFound:
        raise HTTPException(404, "conversation not found") from None
