"""Embeds messages as their `message.created` events arrive and stores the vectors for search.

Locally the events come from the Redis stream (consumer group `ai-indexer`); in the cloud from the Pub/Sub pull
subscription `ai-indexer` (PUBSUB_SUBSCRIPTION), read through Pub/Sub's REST API as the service account. Both
deliver at least once; storing is an upsert keyed by message id, so a redelivery rewrites the same row.

The event names the message and its user; everything else (content, conversation, ownership) is read from the
database inside a transaction scoped to that user, so a forged or stale event can neither index another user's
message nor put words into one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.ai import repository as repo
from app.common.background import BackgroundLoop
from app.common.db import Database
from app.common.gcp import google_api
from app.common.streams import StreamEvent

log = logging.getLogger("app.ai.indexer")

GROUP = "ai-indexer"
PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"


@dataclass(frozen=True)
class MessageRef:
    message_id: UUID
    user_id: UUID


def message_ref(event_type: str, data: dict[str, Any]) -> MessageRef | None:
    if event_type != "message.created":
        return None
    try:
        return MessageRef(UUID(str(data["message"]["id"])), UUID(str(data["user_id"])))
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring a malformed message.created event")
        return None


class Indexer:
    def __init__(self, db: Database, embed: Callable[[list[str]], Awaitable[Any]], model: str) -> None:
        self.db = db
        self.embed = embed
        self.model = model
        self.indexed = 0

    async def index(self, refs: list[MessageRef]) -> int:
        """Embed and store these messages; return how many were stored (deleted ones are skipped)."""
        found: list[tuple[MessageRef, str]] = []
        for ref in refs:
            async with self.db.transaction(ref.user_id) as conn:
                content = await repo.message_content(conn, ref.message_id)
            if content is not None:
                found.append((ref, content))
        if not found:
            return 0
        vectors = await self.embed([content for _, content in found])
        stored = 0
        for (ref, _), vector in zip(found, vectors, strict=True):
            async with self.db.transaction(ref.user_id) as conn:
                stored += await repo.store_embedding(conn, ref.message_id, self.model, vector)
        self.indexed += stored
        return stored

    async def on_stream_events(self, events: list[StreamEvent]) -> None:
        refs = [r for e in events if (r := message_ref(e.type, e.data)) is not None]
        if refs:
            await self.index(refs)


class PubSubPuller(BackgroundLoop):
    """Pulls a Pub/Sub subscription through the REST API and acknowledges what the indexer has stored.

    Unacknowledged messages (indexer failure, instance stopped) are redelivered by Pub/Sub after the ack
    deadline. With PUBSUB_EMULATOR_HOST it talks plain HTTP to the emulator, without credentials.
    """

    def __init__(self, subscription: str, indexer: Indexer, *, emulator_host: str | None = None, batch: int = 64):
        self.subscription = subscription
        self.indexer = indexer
        self.batch = batch
        self.http, self.base, self.token = google_api(PUBSUB_ENDPOINT, emulator_host, 90.0)

    async def stop(self) -> None:
        await super().stop()
        await self.http.aclose()

    async def _call(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self.token.get()}"} if self.token else {}
        resp = await self.http.post(f"{self.base}/v1/{self.subscription}:{verb}", json=body, headers=headers)
        resp.raise_for_status()
        return resp.json() if resp.content else {}

    async def pull_once(self) -> int:
        received = (await self._call("pull", {"maxMessages": self.batch})).get("receivedMessages", [])
        if not received:
            return 0
        refs = []
        for item in received:
            message = item.get("message", {})
            try:
                data = json.loads(base64.b64decode(message.get("data", ""), validate=True))
            except (binascii.Error, ValueError):
                continue  # acknowledged below: it will never parse
            ref = message_ref((message.get("attributes") or {}).get("type", ""), data)
            if ref is not None:
                refs.append(ref)
        await self.indexer.index(refs)
        await self._call("acknowledge", {"ackIds": [item["ackId"] for item in received]})
        return len(received)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self.pull_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pub/sub pull failed, retrying: %s", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
