"""Request-scoped dependencies of the api routes.

All `async def`: FastAPI runs plain `def` dependencies in a worker thread, a costly hop for a trivial lookup.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request, Response

from app.api.service import ApiService
from app.common.security import current_user_id


async def _service(request: Request) -> ApiService:
    return request.app.state.api


Service = Annotated[ApiService, Depends(_service)]
UserId = Annotated[UUID, Depends(current_user_id)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "not found (or not yours)"}}
AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid access token"}}


def cached_json(body: bytes) -> Response:
    """A response from an already-encoded JSON body (what the cache holds): nothing is serialised again."""
    return Response(body, media_type="application/json")
