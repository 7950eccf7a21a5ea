"""The floors the services are measured against: the smallest FastAPI apps, served exactly as the services are.

`python -m app.common.serve bench.floor_app:create_app` (uvicorn, one process) for the Cloud Run services; the
`floor` function under functions-framework for the Cloud Functions. A service's cold start is reported as a ratio
to this, measured side by side in the same run, because the machine is shared and absolute times drift.

`create_read_app` is the floor of the api's uncached message-page read (bench/app_bench.py): the same URL answered by
one psycopg query of the same rows from a pool, in autocommit, returned the plain FastAPI way. It has none of what
the api adds (authentication, caching in two layers, row-level security per transaction, metrics), so the api's CPU
per read is reported as a ratio to it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_library_app() -> FastAPI:
    """The floor plus the libraries auth and api use on every request, imported as the services import them, so a
    service's cold start splits into what any app on these libraries pays and what the service's own code adds:
    psycopg and its pool (every request's database), redis-py (cache and rate limits; through app/common/redispy.py,
    as app/common/redis.py imports it), PyJWT with cryptography (signing or verifying the access token), and
    pydantic-settings (the settings). Auth's argon2 is left out (auth only, a few milliseconds)."""
    import jwt.algorithms  # noqa: F401  (PyJWT imports its cryptography-backed algorithms only here)
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
    import pydantic_settings  # noqa: F401

    from app.common.redispy import without_otel_sdk_probe

    with without_otel_sdk_probe():
        import redis.asyncio  # noqa: F401

    return create_app()


def create_read_app() -> FastAPI:
    """GET /v1/conversations/{id}/messages?limit=&cursor= as one query (DATABASE_URL; FLOOR_USER_ID: whose rows,
    set once per connection for the row-level security the app role is under)."""
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from app.api.cursors import decode_cursor

    async def as_user(conn: Any) -> None:
        await conn.execute("SELECT set_config('app.user_id', %s, false)", (os.environ["FLOOR_USER_ID"],))

    pool = AsyncConnectionPool(
        os.environ["DATABASE_URL"],
        open=False,
        configure=as_user,
        kwargs={"autocommit": True, "row_factory": dict_row},
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/conversations/{conversation_id}/messages")
    async def messages(conversation_id: str, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, conversation_id, role, content, created_at FROM messages"
                " WHERE conversation_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                (conversation_id, decode_cursor(cursor), limit),
            )
            return {"items": await cur.fetchall()}

    return app


def floor(request: Any) -> tuple[str, int]:
    """A functions-framework HTTP function that answers at once."""
    return '{"status": "ok"}', 200
