"""The api service's ASGI app. In the container: `uvicorn app.api.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.events import build_publisher
from app.api.outbox import OutboxRelay
from app.api.realtime import MessageHub
from app.api.routes import routers
from app.api.service import ApiService
from app.api.settings import ApiSettings
from app.common.app import Resources, create_service_app
from app.common.verifier import jwks_verifier


def create_app(settings: ApiSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or ApiSettings()  # type: ignore[call-arg]

    @asynccontextmanager
    async def extension(app: FastAPI, res: Resources) -> AsyncIterator[None]:
        hub = MessageHub(res.redis)
        relay = OutboxRelay(
            res.db,
            build_publisher(settings, res.redis),
            settings.outbox_relay_interval_seconds,
            in_request=settings.outbox_relay_mode == "request",
        )
        app.state.hub = hub
        app.state.api = ApiService(res.db, res.cache, hub, relay)
        app.state.verifier = jwks_verifier(settings)
        hub.start()
        relay.start()
        try:
            yield
        finally:
            await relay.stop()
            await hub.stop()

    return create_service_app(
        settings,
        service="api",
        title="Grid api",
        routers=routers,
        extension=extension,
        configure_logs=configure_logs,
    )


def __getattr__(name: str) -> FastAPI:
    if name == "app":
        return create_app()
    raise AttributeError(name)
