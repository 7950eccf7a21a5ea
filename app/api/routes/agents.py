from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse

from app.api.deps import AUTH, NOT_FOUND, Service, UserId, cached_json
from app.api.schemas import Agent, AgentIn, AgentList, AgentPatch
from app.api.service import NotFound

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=AUTH)


@router.post("", status_code=201, response_model=Agent)
async def create_agent(body: AgentIn, uid: UserId, service: Service) -> Response:
    return JSONResponse(await service.create_agent(uid, body.model_dump()), status_code=201)


@router.get("", response_model=AgentList)
async def list_agents(uid: UserId, service: Service) -> Response:
    return cached_json(await service.list_agents(uid))


@router.get("/{agent_id}", response_model=Agent, responses=NOT_FOUND)
async def get_agent(agent_id: UUID, uid: UserId, service: Service) -> Response:
    try:
        return cached_json(await service.get_agent(uid, agent_id))
    except NotFound:
        raise HTTPException(404, "agent not found") from None


@router.patch("/{agent_id}", response_model=Agent, responses=NOT_FOUND)
async def update_agent(agent_id: UUID, body: AgentPatch, uid: UserId, service: Service) -> Response:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    try:
        if not changes:
            return cached_json(await service.get_agent(uid, agent_id))
        return JSONResponse(await service.update_agent(uid, agent_id, changes))
    except NotFound:
        raise HTTPException(404, "agent not found") from None


@router.delete("/{agent_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
async def delete_agent(agent_id: UUID, uid: UserId, service: Service) -> Response:
    try:
        await service.delete_agent(uid, agent_id)
    except NotFound:
        raise HTTPException(404, "agent not found") from None
    return Response(status_code=204)
