"""What every service's FastAPI app is made of: logging, middleware, error handlers, health, and resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.common import cors, health
from app.common.cache import TwoLayerCache
from app.common.db import Database
from app.common.errors import document_errors, install_error_handlers
from app.common.logging import configure_logging
from app.common.metrics import start_export
from app.common.middleware import RequestContextMiddleware
from app.common.migrations import apply_migrations
from app.common.ratelimit import RateLimiter
from app.common.redis import SafeRedis
from app.common.sessions import SessionCheck
from app.common.settings import ServiceSettings

log = logging.getLogger("app")


@dataclass
class Resources:
    settings: ServiceSettings
    db: Database
    redis: SafeRedis | None
    cache: TwoLayerCache
    limiter: RateLimiter


Extension = Callable[[FastAPI, Resources], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def open_resources(settings: ServiceSettings, service: str) -> AsyncIterator[Resources]:
    url = settings.database_url.get_secret_value()
    if settings.run_migrations:
        await apply_migrations(url, connect_budget=settings.startup_connect_seconds, ca_pem=settings.database_ca_cert)
    db = Database(
        url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        ca_pem=settings.database_ca_cert,
    )
    redis = (
        SafeRedis(settings.redis_url.get_secret_value(), ca_pem=settings.redis_ca_cert) if settings.redis_url else None
    )
    cache = TwoLayerCache(
        redis,
        db=db,
        l1_ttl=settings.cache_l1_ttl_seconds,
        l2_ttl=settings.cache_l2_ttl_seconds,
        max_bytes=settings.cache_l1_max_bytes,
        namespace=f"grid:{service}:cache",
    )
    await db.open(connect_budget=settings.startup_connect_seconds)
    # Reached through the same VPC egress as the database: wait for it within the same budget, then fail open
    # (degraded), loudly, if it is still unusable (unreachable, TLS verification, AUTH).
    if redis is not None and not await redis.wait_until_reachable(settings.startup_connect_seconds):
        log.error("REDIS_URL is set but Redis does not answer: running without a shared cache (see the warning above)")
    cache.start()
    try:
        yield Resources(settings, db, redis, cache, RateLimiter(redis, namespace=f"grid:{service}:rl"))
    finally:
        await cache.stop()
        if redis is not None:
            await redis.close()
        await db.close()


@asynccontextmanager
async def exported_metrics(settings: ServiceSettings, service: str) -> AsyncIterator[None]:
    """Export app metrics while the service runs (METRICS_EXPORT); the last points are flushed at shutdown.

    Importing the OpenTelemetry SDK and the exporter and asking the metadata server for the instance cost a few
    tenths of a CPU second (bench/metrics_cost.py), so it runs in a thread beside the rest of startup instead of
    before it: the instance is ready no later for it, and what is recorded before it is bound is not counted."""
    if not settings.metrics_export:
        yield
        return
    project = settings.google_cloud_project
    assert project is not None

    def start() -> Callable[[], None] | None:
        try:
            return start_export(
                project,
                service,
                interval_seconds=settings.metrics_export_interval_seconds,
                endpoint=settings.monitoring_endpoint,
            )
        except Exception as exc:  # metrics must never take a service down with them
            log.error("METRICS_EXPORT is on but the export did not start: %s: %s", type(exc).__name__, exc)
            return None

    starting = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        yield
    finally:
        shutdown = await starting
        if shutdown is not None:
            await asyncio.to_thread(shutdown)


def create_service_app(
    settings: ServiceSettings,
    *,
    service: str,
    title: str,
    routers: list[Any],
    extension: Extension | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    if configure_logs:
        configure_logging(settings.log_level, settings.google_cloud_project)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with exported_metrics(settings, service), open_resources(settings, service) as resources:
            app.state.resources = resources
            app.state.sessions = SessionCheck(resources.db, recheck=settings.cache_l1_ttl_seconds)
            if extension is None:
                yield
            else:
                async with extension(app, resources):
                    yield
        log.info("%s stopped", service)

    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    document_errors(app)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, access_log=settings.access_log)
    if settings.cors_allowed_origins:
        # Outermost, so a preflight is answered before anything else runs (app/common/cors.py says why here).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allowed_origins),
            allow_methods=list(cors.ALLOWED_METHODS),
            allow_headers=list(cors.ALLOWED_HEADERS),
            max_age=cors.MAX_AGE_SECONDS,
        )
    return app
