"""The auth service's ASGI app. In the container: `uvicorn app.auth.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.auth.keys import load_signing_key, previous_public_jwks
from app.auth.passwords import Hasher
from app.auth.routes import router
from app.auth.service import AuthService
from app.auth.settings import AuthSettings
from app.common import health
from app.common.app import Resources, create_service_app
from app.common.security import StaticKeys, TokenVerifier


def create_app(settings: AuthSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or AuthSettings()  # type: ignore[call-arg]
    key = load_signing_key(settings)
    previous = previous_public_jwks(settings.jwt_previous_public_keys)
    hasher = Hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)

    @asynccontextmanager
    async def extension(app: FastAPI, res: Resources) -> AsyncIterator[None]:
        service = AuthService(settings, res.db, res.limiter, key, hasher, previous)
        app.state.auth = service
        app.state.verifier = TokenVerifier(
            StaticKeys(service.jwks()), issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        yield

    app = create_service_app(
        settings,
        service="auth",
        title="Grid auth",
        routers=[router],
        extension=extension,
        configure_logs=configure_logs,
    )
    # Reachable through the shared entry point too, where only /auth/* is routed to this service.
    app.include_router(health.router, prefix="/auth", include_in_schema=False)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.auth.main:app` builds the app from the environment only when asked for it.
    if name == "app":
        return create_app()
    raise AttributeError(name)
