"""Environment variables of the ai service (in addition to ServiceSettings')."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from app.common.settings import VerifyingServiceSettings

_QUEUE = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/queues/[A-Za-z0-9-]{1,100}$")
_SUBSCRIPTION = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/subscriptions/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")


class AiSettings(VerifyingServiceSettings):
    completion_base_url: str | None = Field(
        None,
        alias="COMPLETION_BASE_URL",
        description="Base URL of an OpenAI-compatible API (…/v1). Unset: POST /ai/complete answers 503.",
    )
    completion_api_key: SecretStr | None = Field(
        None, alias="COMPLETION_API_KEY", description="Bearer key for the completion provider."
    )
    completion_model: str = Field(
        "gpt-4o-mini", alias="COMPLETION_MODEL", description="Model name sent to the completion provider."
    )
    completion_timeout_seconds: float = Field(
        30.0, gt=0, le=300, alias="COMPLETION_TIMEOUT_SECONDS", description="Per-attempt provider timeout."
    )
    completion_max_attempts: int = Field(
        3, ge=1, le=10, alias="COMPLETION_MAX_ATTEMPTS", description="Attempts per completion (retries + 1)."
    )
    daily_token_budget: int = Field(
        200_000,
        ge=0,
        alias="COMPLETION_TOKENS_PER_DAY",
        description="Completion tokens one user may spend per UTC day.",
    )
    embed_threads: int = Field(
        0,
        ge=0,
        le=64,
        alias="EMBED_THREADS",
        description="Intra-op CPU threads of the embedding model; 0: ONNX Runtime's default (one per core). "
        "Set 1 where the cores are shared (see docs/benchmarks.md).",
    )
    embed_model_dir: Path | None = Field(
        None,
        alias="EMBED_MODEL_DIR",
        description="Directory holding the converted embedding model (model.onnx, tokenizer.json, model.json); "
        "default: app/ai/model, where `make` and the image build put it.",
    )
    events_backend: Literal["auto", "redis", "pubsub", "push", "none"] = Field(
        "auto",
        alias="EVENTS_BACKEND",
        description="Where message.created events come from: Redis Streams, a Pub/Sub pull subscription, "
        "Pub/Sub push to POST /ai/events/pubsub, nowhere; auto: pubsub with PUBSUB_SUBSCRIPTION, else redis "
        "locally (REDIS_URL), else none.",
    )
    push_audience: str | None = Field(
        None, alias="PUSH_AUDIENCE", description="OIDC audience the push subscription's tokens carry (push)."
    )
    push_service_account: str | None = Field(
        None, alias="PUSH_SERVICE_ACCOUNT", description="Email of the account Pub/Sub signs push tokens as (push)."
    )
    google_certs_url: str = Field(
        "https://www.googleapis.com/oauth2/v3/certs",
        alias="GOOGLE_CERTS_URL",
        description="Where Google publishes the keys that sign Pub/Sub push tokens (push); `grid local --stack` "
        "points it at the local issuer that stands for Google.",
    )
    pubsub_subscription: str | None = Field(
        None,
        alias="PUBSUB_SUBSCRIPTION",
        description="Full pull subscription projects/<project>/subscriptions/<name> the indexer reads.",
    )
    pubsub_emulator_host: str | None = Field(
        None, alias="PUBSUB_EMULATOR_HOST", description="host:port of a Pub/Sub emulator (tests, local)."
    )
    events_stream: str = Field(
        "grid:events", alias="EVENTS_STREAM", description="Redis stream key for EVENTS_BACKEND=redis."
    )
    embed_batch_size: int = Field(
        64, ge=1, le=1024, alias="EMBED_BATCH_SIZE", description="Texts per model call at most."
    )
    embed_max_chars_per_request: int = Field(
        32_000,
        ge=8_000,
        le=512_000,
        alias="EMBED_MAX_CHARS_PER_REQUEST",
        description="Characters one POST /ai/embed may carry in all its texts together; more is a 413.",
    )
    embed_requests_per_minute: int = Field(
        60, ge=1, alias="EMBED_REQUESTS_PER_MINUTE", description="POST /ai/embed calls one user may make per minute."
    )
    search_requests_per_minute: int = Field(
        60,
        ge=1,
        alias="SEARCH_REQUESTS_PER_MINUTE",
        description="Searches (POST /ai/search and GET /ai/items/search together) one user may make per minute.",
    )
    embed_batch_wait_ms: float = Field(
        5.0, ge=0, le=1000, alias="EMBED_BATCH_WAIT_MS", description="How long a batch waits for more texts."
    )

    tasks_queue: str | None = Field(
        None,
        alias="TASKS_QUEUE",
        description="Cloud Tasks queue projects/<p>/locations/<r>/queues/<q> deferred AI work (reindex) goes to; "
        "unset: POST /ai/reindex answers 404.",
    )
    tasks_target_url: str | None = Field(
        None, alias="TASKS_TARGET_URL", description="URL of this service's POST /ai/tasks/reindex the tasks call."
    )
    tasks_invoker: str | None = Field(
        None, alias="TASKS_INVOKER", description="Email of the account Cloud Tasks signs the tasks' OIDC tokens as."
    )
    tasks_audience: str | None = Field(
        None,
        alias="TASKS_AUDIENCE",
        description="OIDC audience of the tasks' tokens (an audience this service accepts).",
    )
    cloud_tasks_emulator_host: str | None = Field(
        None,
        alias="CLOUD_TASKS_EMULATOR_HOST",
        description="host:port of a local Cloud Tasks (grid local); unset: cloudtasks.googleapis.com.",
    )

    @model_validator(mode="after")
    def _tasks_are_complete(self) -> AiSettings:
        given = {
            "TASKS_QUEUE": self.tasks_queue,
            "TASKS_TARGET_URL": self.tasks_target_url,
            "TASKS_INVOKER": self.tasks_invoker,
            "TASKS_AUDIENCE": self.tasks_audience,
        }
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(k for k, v in given.items() if not v)
            raise ValueError(f"Cloud Tasks is half configured: set {missing} too (or none of TASKS_*)")
        if self.tasks_queue and not _QUEUE.match(self.tasks_queue):
            raise ValueError("TASKS_QUEUE must be projects/<project>/locations/<region>/queues/<queue>")
        return self

    @model_validator(mode="after")
    def _backend_is_usable(self) -> AiSettings:
        backend = self.resolved_events_backend
        if backend == "pubsub" and (not self.pubsub_subscription or not _SUBSCRIPTION.match(self.pubsub_subscription)):
            raise ValueError("EVENTS_BACKEND=pubsub needs PUBSUB_SUBSCRIPTION=projects/<project>/subscriptions/<name>")
        if backend == "redis" and self.redis_url is None:
            raise ValueError("EVENTS_BACKEND=redis needs REDIS_URL")
        if backend == "push" and not (self.push_audience and self.push_service_account):
            raise ValueError("EVENTS_BACKEND=push needs PUSH_AUDIENCE and PUSH_SERVICE_ACCOUNT")
        return self

    @property
    def resolved_events_backend(self) -> Literal["redis", "pubsub", "push", "none"]:
        if self.events_backend != "auto":
            return self.events_backend
        if self.pubsub_subscription:
            return "pubsub"
        # In the cloud events travel by Pub/Sub; a Redis stream there would be silently empty.
        if self.environment in ("local", "test") and self.redis_url is not None:
            return "redis"
        return "none"
