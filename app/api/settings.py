"""Environment variables of the api service (in addition to ServiceSettings')."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from app.common.settings import VerifyingServiceSettings

_TOPIC = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")


class ApiSettings(VerifyingServiceSettings):
    events_backend: Literal["redis", "pubsub", "none"] = Field(
        "redis",
        alias="EVENTS_BACKEND",
        description="Where message.created events go: Redis Streams (local), Google Pub/Sub (cloud), nowhere.",
    )
    pubsub_topic: str | None = Field(
        None, alias="PUBSUB_TOPIC", description="Full topic name projects/<project>/topics/<topic>."
    )
    pubsub_emulator_host: str | None = Field(
        None, alias="PUBSUB_EMULATOR_HOST", description="host:port of a Pub/Sub emulator (tests, local)."
    )
    events_stream: str = Field(
        "grid:events", alias="EVENTS_STREAM", description="Redis stream key for EVENTS_BACKEND=redis."
    )
    message_writes_per_minute: int = Field(
        120, ge=1, alias="MESSAGE_WRITES_PER_MINUTE", description="Messages one user may post per minute."
    )
    request_timeout_seconds: float | None = Field(
        None,
        gt=0,
        alias="REQUEST_TIMEOUT_SECONDS",
        description="The platform's request timeout (Cloud Run's, from the plan): a WebSocket stream is closed "
        "(1001, reconnect with the cursor) shortly before it cuts the connection. Unset: streams have no limit.",
    )
    outbox_relay_interval_seconds: float = Field(
        2.0, gt=0, alias="OUTBOX_RELAY_INTERVAL_SECONDS", description="Retry period for unsent events."
    )
    outbox_relay_mode: Literal["background", "request"] = Field(
        "background",
        alias="OUTBOX_RELAY_MODE",
        description="background: a relay loop (needs CPU between requests); request: the committing request "
        "publishes its events before it responds (Cloud Run with request-based billing).",
    )

    @model_validator(mode="after")
    def _pubsub_needs_topic(self) -> ApiSettings:
        if self.events_backend == "pubsub" and (not self.pubsub_topic or not _TOPIC.match(self.pubsub_topic)):
            raise ValueError("EVENTS_BACKEND=pubsub needs PUBSUB_TOPIC=projects/<project>/topics/<topic>")
        if self.events_backend == "redis" and self.redis_url is None:
            raise ValueError("EVENTS_BACKEND=redis needs REDIS_URL")
        return self
