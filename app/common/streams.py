"""Consuming Redis Streams with a consumer group: the local event bus's receiving end.

Every consumer group gets every event once; within a group each event goes to one consumer and stays pending
until that consumer acknowledges it. A handler that fails leaves its events pending, and they are claimed again
(by this or another instance) after `retry_after` seconds, so delivery is at least once, as with Pub/Sub;
handlers dedupe on the event or message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.common.background import BackgroundLoop
from app.common.redis import connect
from app.common.redispy import without_otel_sdk_probe

with without_otel_sdk_probe():  # as in app/common/redis.py, whichever of the two is imported first
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("app.streams")


@dataclass(frozen=True)
class StreamEvent:
    stream_id: str
    id: str
    type: str
    time: str
    data: dict[str, Any]


Handler = Callable[[list[StreamEvent]], Awaitable[None]]


def _decode(stream_id: bytes, fields: dict[bytes, bytes]) -> StreamEvent | None:
    try:
        return StreamEvent(
            stream_id.decode(),
            fields[b"id"].decode(),
            fields[b"type"].decode(),
            fields.get(b"time", b"").decode(),
            json.loads(fields[b"data"]),
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


class StreamConsumer(BackgroundLoop):
    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        handler: Handler,
        *,
        consumer: str | None = None,
        batch: int = 64,
        block_ms: int = 1000,
        retry_after: float = 30.0,
        ca_pem: str | None = None,
    ) -> None:
        self.url = url
        self.ca_pem = ca_pem
        self.stream = stream
        self.group = group
        self.handler = handler
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch = batch
        self.block_ms = block_ms
        self.retry_after = retry_after

    async def _run(self) -> None:
        # Its own connection with a read timeout above the blocking read's; SafeRedis's 250 ms would cut it short.
        client = connect(self.url, self.ca_pem, socket_timeout=self.block_ms / 1000 + 5, socket_connect_timeout=2)
        backoff = 0.2
        try:
            while True:
                try:
                    await self._ensure_group(client)
                    while True:
                        await self._reclaim(client)
                        await self._read(client)
                        backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except (RedisError, OSError, TimeoutError) as exc:
                    log.warning("event stream unavailable, retrying: %s", type(exc).__name__)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await client.aclose()

    async def _ensure_group(self, client: aioredis.Redis) -> None:
        # From the start of the stream: a new consumer catches up on what was published before it existed.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await client.xgroup_create(self.stream, self.group, id="0", mkstream=True)

    async def _read(self, client: aioredis.Redis) -> None:
        reply: Any = await client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        for _stream, entries in reply or []:
            await self._deliver(client, entries)

    async def _reclaim(self, client: aioredis.Redis) -> None:
        """Take over events left pending longer than retry_after (a failed handler, a dead instance)."""
        reply = await client.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=int(self.retry_after * 1000), count=self.batch
        )
        entries = [e for e in reply[1] if e and e[1] is not None]
        if entries:
            await self._deliver(client, entries)

    async def _deliver(self, client: aioredis.Redis, entries: list[Any]) -> None:
        events, unreadable = [], []
        for stream_id, fields in entries:
            event = _decode(stream_id, fields)
            (events.append(event) if event else unreadable.append(stream_id))
        if unreadable:
            log.warning("dropping %d unreadable stream entries", len(unreadable))
            await client.xack(self.stream, self.group, *unreadable)
        if not events:
            return
        try:
            await self.handler(events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Left pending: reclaimed and retried after retry_after.
            log.warning("event handler %s failed, will retry: %s", self.group, type(exc).__name__)
            return
        await client.xack(self.stream, self.group, *(e.stream_id for e in events))
