"""The ai service's ASGI app. In the container: `python -m app.common.serve app.ai.main:create_app`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.ai.completion import CompletionClient
from app.ai.embeddings import MicroBatcher, get_embedder
from app.ai.indexer import GROUP, Indexer, PubSubPuller
from app.ai.items import ItemIndexer
from app.ai.push import PushVerifier
from app.ai.routes import routers
from app.ai.service import AiService
from app.ai.settings import AiSettings
from app.ai.tasks import TaskQueue
from app.common.app import Resources, create_service_app
from app.common.cache import TwoLayerCache
from app.common.metrics import METRICS
from app.common.streams import StreamConsumer
from app.common.verifier import jwks_verifier

log = logging.getLogger("app.ai")

# Vectors are addressed by content and never go stale: keep them long in both layers (Redis evicts by LRU).
VECTOR_L1_TTL = 3600.0
VECTOR_L2_TTL = 30 * 86400
VECTOR_L1_BYTES = 64 * 1_048_576


def create_app(settings: AiSettings | None = None, *, configure_logs: bool = True, embedder: Any = None) -> FastAPI:
    settings = settings or AiSettings()  # type: ignore[call-arg]

    @asynccontextmanager
    async def extension(app: FastAPI, res: Resources) -> AsyncIterator[None]:
        # Loading the model takes seconds of CPU: off the event loop, before the instance reports started.
        model = embedder or await asyncio.to_thread(get_embedder, settings.embed_threads, settings.embed_model_dir)
        batcher = MicroBatcher(model, max_batch=settings.embed_batch_size, wait=settings.embed_batch_wait_ms / 1000)
        vectors = TwoLayerCache(
            res.redis, l1_ttl=VECTOR_L1_TTL, l2_ttl=VECTOR_L2_TTL, max_bytes=VECTOR_L1_BYTES, namespace="grid:ai:vec"
        )
        key = settings.completion_api_key.get_secret_value() if settings.completion_api_key else None
        completions = CompletionClient(
            settings.completion_base_url,
            key,
            settings.completion_model,
            timeout=settings.completion_timeout_seconds,
            max_attempts=settings.completion_max_attempts,
        )
        service = AiService(
            res.db,
            vectors,
            batcher,
            model.name,
            completions,
            settings.daily_token_budget,
        )
        indexer = Indexer(res.db, service.embed_array, model.name)
        app.state.ai = service
        app.state.indexer = indexer
        app.state.items = ItemIndexer(res.db, service.embed_array, model.name)
        app.state.verifier = jwks_verifier(settings)
        app.state.tasks = None
        async with AsyncExitStack() as stack:
            if settings.tasks_queue:
                assert settings.tasks_target_url and settings.tasks_invoker and settings.tasks_audience
                app.state.tasks = TaskQueue(
                    settings.tasks_queue,
                    settings.tasks_target_url,
                    settings.tasks_invoker,
                    settings.tasks_audience,
                    emulator_host=settings.cloud_tasks_emulator_host,
                )
                stack.push_async_callback(app.state.tasks.close)
                # The tasks' OIDC tokens are verified like pushes: Google's signature, audience, the invoker's email.
                app.state.task_verifier = PushVerifier(
                    settings.tasks_audience, settings.tasks_invoker, jwks_url=settings.google_certs_url
                )
            batcher.start()
            stack.push_async_callback(batcher.stop)
            stack.callback(METRICS.watch_queue("embed", batcher.depth))
            stack.push_async_callback(completions.close)
            backend = settings.resolved_events_backend
            if backend == "redis":
                assert settings.redis_url is not None
                consumer = StreamConsumer(
                    settings.redis_url.get_secret_value(),
                    settings.events_stream,
                    GROUP,
                    indexer.on_stream_events,
                    ca_pem=settings.redis_ca_cert,
                )
                consumer.start()
                stack.push_async_callback(consumer.stop)
            elif backend == "push":
                assert settings.push_audience is not None and settings.push_service_account is not None
                app.state.push_verifier = PushVerifier(
                    settings.push_audience, settings.push_service_account, jwks_url=settings.google_certs_url
                )
            elif backend == "pubsub":
                assert settings.pubsub_subscription is not None
                puller = PubSubPuller(
                    settings.pubsub_subscription, indexer, emulator_host=settings.pubsub_emulator_host
                )
                puller.start()
                stack.push_async_callback(puller.stop)
            else:
                log.warning("no event source configured: new messages are not indexed for search")
            yield

    return create_service_app(
        settings,
        service="ai",
        title="Grid ai",
        routers=routers,
        extension=extension,
        configure_logs=configure_logs,
    )


def __getattr__(name: str) -> FastAPI:
    if name == "app":
        return create_app()
    raise AttributeError(name)
