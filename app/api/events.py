"""Domain events (`message.created`): a publisher interface, Google Pub/Sub for the cloud and Redis Streams
locally. Publishers are called by the outbox relay only, never inside a request."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from app.api.settings import ApiSettings
from app.common.pubsub import Event, PubSubPublisher
from app.common.redis import SafeRedis

log = logging.getLogger("app.events")


class EventPublisher(Protocol):
    async def publish(self, events: list[Event]) -> None:
        """Publish all events or raise; the caller retries the whole batch (delivery is at least once)."""

    async def close(self) -> None: ...


class NullPublisher:
    async def publish(self, events: list[Event]) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisStreamPublisher:
    def __init__(self, redis: SafeRedis, stream: str, maxlen: int = 100_000) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen

    async def publish(self, events: list[Event]) -> None:
        async def op(r: Any) -> Any:
            pipe = r.pipeline(transaction=False)
            for e in events:
                fields = {"id": e.id, "type": e.type, "time": e.time, "data": json.dumps(e.data)}
                pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
            return await pipe.execute()

        await self.redis.run(op)

    async def close(self) -> None:
        return None


def build_publisher(settings: ApiSettings, redis: SafeRedis | None) -> EventPublisher:
    if settings.events_backend == "pubsub":
        assert settings.pubsub_topic
        return PubSubPublisher(settings.pubsub_topic, emulator_host=settings.pubsub_emulator_host)
    if settings.events_backend == "redis":
        assert redis is not None
        return RedisStreamPublisher(redis, settings.events_stream)
    return NullPublisher()
