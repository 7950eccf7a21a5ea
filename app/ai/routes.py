from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from app.ai.completion import ProviderNotConfigured, ProviderRejected, ProviderUnavailable
from app.ai.indexer import message_ref
from app.ai.items import scraped_item
from app.ai.push import InvalidPush, envelope_event
from app.ai.schemas import (
    MAX_ITEM_QUERY_CHARS,
    MAX_ITEM_RESULTS,
    MAX_TEXT_CHARS,
    CompleteIn,
    CompleteOut,
    EmbedIn,
    EmbedOut,
    ItemSearchOut,
    SearchIn,
    SearchOut,
)
from app.ai.service import AiService, BudgetExceeded, NotFound
from app.ai.tasks import Reindex, run_reindex
from app.common import health
from app.common.security import current_user_id

AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid access token"}}


async def _service(request: Request) -> AiService:
    return request.app.state.ai


Service = Annotated[AiService, Depends(_service)]
UserId = Annotated[UUID, Depends(current_user_id)]

RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": "per-user rate spent; see Retry-After"}}


def _per_minute(kind: str, setting: str) -> Any:
    """A dependency counting the caller's calls of `kind` per minute against the setting named `setting`: the model
    work one user can cause is bounded by this rate times the request's own input budget."""

    async def check(request: Request, uid: UserId) -> UUID:
        usage = await request.app.state.resources.limiter.hit(f"{kind}:user:{uid}", 60)
        limit = getattr(request.app.state.settings, setting)
        if usage.count > limit:
            raise HTTPException(
                429,
                f"more than {limit} {kind} calls a minute; retry later",
                headers={"Retry-After": str(usage.retry_after)},
            )
        return uid

    return Depends(check)


# The load balancer sends /ai/* here unchanged, so the health checks answer under /ai too.
health_router = APIRouter(prefix="/ai", tags=["health"])
health_router.add_api_route("/health", health.health, methods=["GET"], response_model=health.Health)
health_router.add_api_route("/ready", health.ready, methods=["GET"], response_model=health.Readiness)

router = APIRouter(prefix="/ai", tags=["ai"], responses=AUTH)

# Pub/Sub push (EVENTS_BACKEND=push): authenticated by the push's OIDC token, not a user's access token.
events_router = APIRouter(prefix="/ai", tags=["events"])


async def _from_google(request: Request, verifier_name: str, off: str, refused: str) -> None:
    """404 when this delivery is off, 401 unless the request carries the stack's Google-signed OIDC token."""
    verifier = getattr(request.app.state, verifier_name, None)
    if verifier is None:
        raise HTTPException(404, off)
    try:
        await verifier.verify(request.headers.get("authorization"))
    except InvalidPush:
        raise HTTPException(401, refused) from None


async def _pushed_event(request: Request) -> tuple[str, dict[str, Any]] | None:
    """The (type, data) of a Pub/Sub push from the stack's subscription (401/404 otherwise), or None when the
    message can never be parsed (then it is acknowledged)."""
    await _from_google(request, "push_verifier", "push delivery is not enabled", "invalid push token")
    try:
        envelope = await request.json()
    except ValueError:
        envelope = None
    return envelope_event(envelope)


# What a push route answers besides its 204 (both push routes: the verification and the switch are shared).
PUSH_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "not a push from the stack's subscription"},
    404: {"description": "push off"},
}


@events_router.post(
    "/events/pubsub",
    status_code=204,
    responses=PUSH_RESPONSES,
)
async def pubsub_push(request: Request) -> Response:
    event = await _pushed_event(request)
    ref = message_ref(*event) if event is not None else None
    if ref is not None:
        await request.app.state.indexer.index([ref])  # an error is a 5xx: Pub/Sub redelivers
    return Response(status_code=204)  # acknowledged (also what can never parse)


@events_router.post(
    "/events/items",
    status_code=204,
    responses=PUSH_RESPONSES,
)
async def items_push(request: Request) -> Response:
    """item.scraped from the scraper, pushed by its own filtered subscription: stored once, embedded for search."""
    event = await _pushed_event(request)
    item = scraped_item(*event) if event is not None else None
    if item is not None:
        await request.app.state.items.store([item])  # an error is a 5xx: Pub/Sub redelivers
    return Response(status_code=204)  # acknowledged (also what can never parse, and other types)


@events_router.post(
    "/tasks/reindex",
    status_code=204,
    responses={
        400: {"description": "not a reindex task body"},
        401: {"description": "not a task from the stack's queue"},
        404: {"description": "no task queue"},
    },
)
async def reindex_task(request: Request) -> Response:
    """One page of a user's re-embedding, delivered by Cloud Tasks; a 5xx has the queue retry it."""
    await _from_google(request, "task_verifier", "no task queue is configured", "invalid task token")
    try:
        work = Reindex.parse(await request.json())
    except (KeyError, TypeError, ValueError):
        # Retrying cannot fix it; a 4xx is retried too, so this is logged for whoever enqueued it.
        raise HTTPException(400, "expected {user_id, model, after}") from None
    await run_reindex(request.app.state.indexer, request.app.state.tasks, work)
    return Response(status_code=204)


@router.post(
    "/reindex",
    status_code=202,
    responses={404: {"description": "deferred work is off: no task queue configured"}},
)
async def reindex(uid: UserId, service: Service, request: Request) -> dict[str, Any]:
    """Re-embed all of the caller's messages that have no embedding from the current model, in the background."""
    queue = request.app.state.tasks
    if queue is None:
        # Off, as push delivery is when not configured: not a server fault (set TASKS_QUEUE and the others).
        raise HTTPException(404, "deferred work needs a task queue (set TASKS_QUEUE and the other TASKS_* variables)")
    queued = await queue.enqueue(Reindex(uid, service.model))
    return {"model": service.model, "queued": queued}


@router.post(
    "/embed",
    response_model=EmbedOut,
    responses={413: {"description": "a text, or all texts together, too long"}, **RATE_LIMITED},
)
async def embed(
    body: EmbedIn,
    request: Request,
    service: Service,
    uid: Annotated[UUID, _per_minute("embed", "embed_requests_per_minute")],
) -> EmbedOut:
    if body.too_long():
        raise HTTPException(413, f"each text may have at most {MAX_TEXT_CHARS} characters")
    budget = request.app.state.settings.embed_max_chars_per_request
    if body.total_chars() > budget:
        raise HTTPException(413, f"all texts together may have at most {budget} characters; split the request")
    vectors = await service.embed(body.texts)
    return EmbedOut(model=service.model, dim=len(vectors[0]), vectors=vectors)


@router.post("/search", response_model=SearchOut, responses=RATE_LIMITED)
async def search(
    body: SearchIn, service: Service, uid: Annotated[UUID, _per_minute("search", "search_requests_per_minute")]
) -> dict[str, Any]:
    return {"items": await service.search(uid, body.query, body.conversation_id, body.limit)}


@router.get("/items/search", response_model=ItemSearchOut, responses=RATE_LIMITED)
async def search_items(
    request: Request,
    service: Service,
    uid: Annotated[UUID, _per_minute("search", "search_requests_per_minute")],
    q: Annotated[str, Query(min_length=1, max_length=MAX_ITEM_QUERY_CHARS, description="What to look for.")],
    limit: Annotated[int, Query(ge=1, le=MAX_ITEM_RESULTS)] = 10,
) -> dict[str, Any]:
    """The scraped items nearest in meaning to `q`, best first (shared by every user: they are public content)."""
    if not q.strip():
        raise HTTPException(422, "q: give some words to search for")
    [vector] = await service.embed([q])
    return {"items": await request.app.state.items.search(vector, limit)}


@router.post(
    "/complete",
    response_model=CompleteOut,
    responses={
        404: {"description": "conversation not found (or not yours)"},
        429: {"description": "daily token budget spent"},
        502: {"description": "the provider refused the request"},
        503: {"description": "no provider configured, or the provider is unavailable"},
    },
)
async def complete(body: CompleteIn, uid: UserId, service: Service) -> CompleteOut:
    try:
        c = await service.complete(uid, body.prompt, body.conversation_id, body.max_tokens)
    except NotFound:
        raise HTTPException(404, "conversation not found") from None
    except BudgetExceeded:
        raise HTTPException(429, "daily token budget spent; it resets at 00:00 UTC") from None
    except ProviderNotConfigured:
        raise HTTPException(
            503, "no completion provider is configured (set COMPLETION_BASE_URL and COMPLETION_API_KEY)"
        ) from None
    except ProviderUnavailable as exc:
        raise HTTPException(
            503, "the completion provider is unavailable, retry later", headers={"Retry-After": str(exc.retry_after)}
        ) from None
    except ProviderRejected:
        raise HTTPException(502, "the completion provider rejected the request") from None
    usage = {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens, "total_tokens": c.total_tokens}
    return CompleteOut(model=c.model, content=c.content, usage=usage)  # type: ignore[arg-type]


routers = [health_router, router, events_router]
