"""Deferred AI work through the stack's Cloud Tasks queue: re-embedding one user's messages (after a model change,
or a bulk index of messages that never were), a page per task.

ai both enqueues and runs the tasks: the work, its model and its pace are ai's, so api needs no grant on the queue.
A task is an HTTP task to ai's POST /ai/tasks/reindex carrying an OIDC token Cloud Tasks mints for the stack's
invoker account (https://cloud.google.com/tasks/docs/creating-http-target-tasks); creating it needs
roles/cloudtasks.enqueuer on the queue and iam.serviceAccountUser on that account
(https://cloud.google.com/tasks/docs/reference-access-control). The queue's rateLimits pace the dispatches and its
retryConfig retries a non-2xx answer with backoff up to maxAttempts
(https://cloud.google.com/tasks/docs/configuring-queues), so a page that fails is simply answered 5xx.

Idempotent on redelivery (Cloud Tasks delivers at least once): a page is "the user's messages with no embedding
from the current model, after this cursor", stored by upsert, so a repeated page finds less or nothing to do; the
follow-up task has a name derived from (user, model, cursor), and Cloud Tasks refuses a second task of the same
name (409, https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create), so a
redelivered page does not fork the chain. Tenant-scoped: the task names one user and every read and write runs
in that user's row-level-security transaction.

Enqueued through the REST API with the metadata server's token (app/common/gcp.py), not google-cloud-tasks: that
client brings gRPC and google-api-core (bench/metrics_cost.py measures the same stack at +27 MB and seconds of
imports), for one POST.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.ai import repository as repo
from app.ai.indexer import Indexer, MessageRef
from app.common.gcp import google_api

log = logging.getLogger("app.ai.tasks")

REINDEX_PATH = "/ai/tasks/reindex"
CLOUD_TASKS = "https://cloudtasks.googleapis.com"
PAGE = 64


@dataclass(frozen=True)
class Reindex:
    """One page of one user's re-embedding: their stale messages after ``after`` (None: from the start)."""

    user_id: UUID
    model: str
    after: UUID | None = None

    def body(self) -> dict[str, str | None]:
        return {"user_id": str(self.user_id), "model": self.model, "after": str(self.after) if self.after else None}

    @classmethod
    def parse(cls, body: Any) -> Reindex:
        if not isinstance(body, dict):
            raise ValueError("a reindex task body is a JSON object")
        after = body.get("after")
        return cls(UUID(str(body["user_id"])), str(body["model"]), UUID(str(after)) if after else None)

    def task_id(self) -> str:
        """Deterministic, so the same page is enqueued once; hashed, since sequential names slow the queue down
        (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#Task.FIELDS.name)."""
        key = f"{self.user_id}:{self.model}:{self.after or ''}"
        return "reindex-" + hashlib.sha256(key.encode()).hexdigest()[:32]


class QueueNotConfigured(Exception):
    pass


class TaskQueue:
    """Creates HTTP tasks in one queue. With ``emulator_host`` (grid local) it speaks plain HTTP without a token:
    the local cloud knows the caller by the listener it calls, as its Pub/Sub does."""

    def __init__(
        self,
        queue: str,
        target_url: str,
        invoker: str,
        audience: str,
        *,
        emulator_host: str | None = None,
    ) -> None:
        self.queue = queue
        self.target_url = target_url
        self.invoker = invoker
        self.audience = audience
        self.http, self.base, self.token = google_api(CLOUD_TASKS, emulator_host, 30.0)

    async def close(self) -> None:
        await self.http.aclose()

    async def enqueue(self, work: Reindex) -> bool:
        """Create the task; False if a task of that name exists or did recently (already queued or done)."""
        task = {
            "name": f"{self.queue}/tasks/{work.task_id()}",
            "httpRequest": {
                "url": self.target_url,
                "httpMethod": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": base64.b64encode(json.dumps(work.body()).encode()).decode(),
                "oidcToken": {"serviceAccountEmail": self.invoker, "audience": self.audience},
            },
        }
        headers = {"Authorization": f"Bearer {await self.token.get()}"} if self.token else {}
        resp = await self.http.post(f"{self.base}/v2/{self.queue}/tasks", json={"task": task}, headers=headers)
        if resp.status_code == 409:
            return False
        resp.raise_for_status()
        return True


async def run_reindex(indexer: Indexer, queue: TaskQueue | None, work: Reindex, page: int | None = None) -> int:
    """Embed one page of the user's stale messages and enqueue the next page if there may be one; returns how
    many were stored. Raises on failure: the 5xx makes Cloud Tasks retry the page."""
    page = page or PAGE
    if work.model != indexer.model:
        # Enqueued for a model this revision does not serve (a rollout in between): the current model's own
        # reindex covers the user, so this one is done.
        log.info("reindex task for model %s skipped: serving %s", work.model, indexer.model)
        return 0
    async with indexer.db.transaction(work.user_id) as conn:
        rows = await repo.stale_messages(conn, indexer.model, work.after, page)
    stored = await indexer.index([MessageRef(r["id"], work.user_id) for r in rows])
    if len(rows) == page and queue is not None:
        await queue.enqueue(Reindex(work.user_id, work.model, rows[-1]["id"]))
    return stored
