"""Liveness and readiness.

/ready fails only when the database is unreachable. Redis being down is reported as `degraded` but keeps the
instance ready: the services fail open without it, and pulling every instance out of rotation because of a
cache outage would turn a slowdown into an outage.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.common.caching import NO_STORE, cache_policy

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    cache: str


@router.get("/health", response_model=Health)
@cache_policy(NO_STORE)
async def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
@cache_policy(NO_STORE)
async def ready(request: Request) -> JSONResponse:
    res = request.app.state.resources
    try:
        await res.db.ping()
        database = "ok"
    except Exception:
        database = "unavailable"
    cache = "in-process" if res.redis is None else "ok" if await res.redis.ping() else "degraded"
    ok = database == "ok"
    body = Readiness(status="ok" if ok else "unavailable", database=database, cache=cache)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
