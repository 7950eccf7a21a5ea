"""Domain events (`message.created`): a publisher interface, Google Pub/Sub for the cloud and Redis Streams
locally. Publishers are called by the outbox relay only, never inside a request."""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.api.settings import ApiSettings
from app.common.redis import SafeRedis

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("app.events")

PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"
METADATA_TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    time: str
    data: dict[str, Any]


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


class MetadataServerToken:
    """OAuth access token of the Cloud Run service account, from the metadata server, cached until near expiry."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._token: str | None = None
        self._expires = 0.0

    async def __call__(self) -> str:
        if self._token is None or time.monotonic() > self._expires:
            resp = await self.http.get(METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"})
            resp.raise_for_status()
            body = resp.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + int(body.get("expires_in", 300)) - 60
        return self._token


class PubSubPublisher:
    """Google Pub/Sub through its REST API (`topics.publish`), authenticated as the service account.

    With PUBSUB_EMULATOR_HOST set it talks plain HTTP to the emulator without credentials, as Google's client
    libraries do.
    """

    def __init__(self, topic: str, *, emulator_host: str | None = None, http: httpx.AsyncClient | None = None):
        import httpx  # only deployments that publish to Pub/Sub pay for importing it

        self.topic = topic
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self.base = f"http://{emulator_host}" if emulator_host else PUBSUB_ENDPOINT
        self.token = None if emulator_host else MetadataServerToken(self.http)

    async def publish(self, events: list[Event]) -> None:
        messages = [
            {
                "data": base64.b64encode(json.dumps(e.data, separators=(",", ":")).encode()).decode(),
                "attributes": {"type": e.type, "id": e.id, "time": e.time},
            }
            for e in events
        ]
        headers = {"Authorization": f"Bearer {await self.token()}"} if self.token else {}
        resp = await self.http.post(
            f"{self.base}/v1/{self.topic}:publish", json={"messages": messages}, headers=headers
        )
        resp.raise_for_status()
        ids = resp.json().get("messageIds", [])
        if len(ids) != len(messages):
            raise RuntimeError("Pub/Sub accepted fewer messages than sent")

    async def close(self) -> None:
        await self.http.aclose()


def build_publisher(settings: ApiSettings, redis: SafeRedis | None) -> EventPublisher:
    if settings.events_backend == "pubsub":
        assert settings.pubsub_topic
        return PubSubPublisher(settings.pubsub_topic, emulator_host=settings.pubsub_emulator_host)
    if settings.events_backend == "redis":
        assert redis is not None
        return RedisStreamPublisher(redis, settings.events_stream)
    return NullPublisher()
