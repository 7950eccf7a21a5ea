"""Fan-out of new messages to WebSocket subscribers on every instance, through Redis pub/sub.

Each instance keeps one pattern subscription and forwards to its local subscribers. Without Redis (down or not
configured) messages still reach subscribers connected to the instance that stored them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.common.redis import RedisUnavailable, SafeRedis, listen_forever

log = logging.getLogger("app.realtime")

PREFIX = "grid:rt:conv:"
QUEUE_SIZE = 256
# Put in place of the backlog of a subscriber too slow to keep up; the stream then closes and the client
# catches up with GET /messages?cursor=..., rather than memory growing without bound.
OVERFLOW = "__overflow__"


class MessageHub:
    def __init__(self, redis: SafeRedis | None) -> None:
        self.redis = redis
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.redis is not None:
            self._listener = asyncio.create_task(
                listen_forever(self.redis, patterns=(PREFIX + "*",), handler=self._on_redis_message)
            )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    @asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.setdefault(conversation_id, set()).add(queue)
        try:
            yield queue
        finally:
            subs = self._subscribers.get(conversation_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[conversation_id]

    async def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        data = json.dumps({"type": "message.created", "message": message}, separators=(",", ":"))
        if self.redis is not None:
            try:
                await self.redis.run(lambda r: r.publish(PREFIX + conversation_id, data))
                return
            except RedisUnavailable:
                pass
        self._deliver(conversation_id, data)

    def _on_redis_message(self, channel: bytes, data: bytes) -> None:
        self._deliver(channel.decode()[len(PREFIX) :], data.decode())

    def _deliver(self, conversation_id: str, data: str) -> None:
        for queue in self._subscribers.get(conversation_id, ()):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                log.warning("stream subscriber too slow, closing it")
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(OVERFLOW)
