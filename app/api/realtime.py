"""Fan-out of new messages to WebSocket subscribers on every instance, through Redis pub/sub.

Each instance keeps one pattern subscription and forwards to its local subscribers. Without Redis (down or not
configured) messages still reach subscribers connected to the instance that stored them. Pub/sub is best effort
(nothing is kept for a subscription that is down), so every event carries its message's position (`seq`, and
the opaque `cursor` a client resumes from) and a stream fills any gap from Postgres: see routes/stream.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.api.cursors import BadCursor, decode_cursor, encode_cursor
from app.common.redis import RedisUnavailable, SafeRedis, listen_forever

log = logging.getLogger("app.realtime")

PREFIX = "grid:rt:conv:"
QUEUE_SIZE = 256

# Queue items are (seq, event JSON), or one of these markers (seq 0: no message has it).
# Put in place of the backlog of a subscriber too slow to keep up; the stream then closes and the client
# resumes from its last cursor, rather than memory growing without bound.
OVERFLOW = (0, "__overflow__")
# The pub/sub subscription was (re)made: anything published while it was down is lost, so catch up.
RESYNC = (0, "__resync__")
# Published for a conversation whose messages this instance could not publish (Redis down or breaker open), once
# Redis is reachable again: every instance's streams of it then catch up from Postgres.
RESYNC_NOTICE = '{"type":"resync"}'
RESYNC_NOTICE_INTERVAL = 0.5

Item = tuple[int, str]


def message_event(message: dict[str, Any], seq: int) -> str:
    """The stream's `message.created` event, the same whether pushed live or replayed from Postgres."""
    event = {"type": "message.created", "message": message, "cursor": encode_cursor(seq)}
    return json.dumps(event, separators=(",", ":"))


def _seq(data: str) -> int | None:
    try:
        return decode_cursor(json.loads(data)["cursor"])
    except (ValueError, KeyError, TypeError, BadCursor):
        return None


class MessageHub:
    def __init__(self, redis: SafeRedis | None) -> None:
        self.redis = redis
        self._subscribers: dict[str, set[asyncio.Queue[Item]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        # Conversations with messages other instances may have missed, to announce once Redis is back.
        self._unsent: set[str] = set()

    def start(self) -> None:
        if self.redis is not None:
            self._listener = asyncio.create_task(
                listen_forever(
                    self.redis, patterns=(PREFIX + "*",), handler=self._on_redis_message, on_subscribed=self._resync
                )
            )
            self._notifier = asyncio.create_task(self._announce_unsent())

    async def stop(self) -> None:
        tasks = [t for t in (self._listener, self._notifier) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[Item]]:
        queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.setdefault(conversation_id, set()).add(queue)
        try:
            yield queue
        finally:
            subs = self._subscribers.get(conversation_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subscribers[conversation_id]

    async def publish(self, conversation_id: str, message: dict[str, Any], seq: int) -> None:
        data = message_event(message, seq)
        if self.redis is not None:
            try:
                await self.redis.run(lambda r: r.publish(PREFIX + conversation_id, data))
                return
            except RedisUnavailable:
                self._unsent.add(conversation_id)
        self._deliver(conversation_id, (seq, data))

    async def _announce_unsent(self) -> None:
        assert self.redis is not None
        while True:
            await asyncio.sleep(RESYNC_NOTICE_INTERVAL)
            if not self._unsent or not self.redis.available:
                continue
            conversations = list(self._unsent)

            async def notify(r: Any, conversations: list[str] = conversations) -> Any:
                pipe = r.pipeline(transaction=False)
                for conversation_id in conversations:
                    pipe.publish(PREFIX + conversation_id, RESYNC_NOTICE)
                return await pipe.execute()

            try:
                await self.redis.run(notify)
            except RedisUnavailable:
                continue
            self._unsent.difference_update(conversations)

    def _on_redis_message(self, channel: bytes, data: bytes) -> None:
        conversation_id, text = channel.decode()[len(PREFIX) :], data.decode()
        if text == RESYNC_NOTICE:
            self._deliver(conversation_id, RESYNC)
            return
        seq = _seq(text)
        if seq is not None:
            self._deliver(conversation_id, (seq, text))

    def _resync(self) -> None:
        for conversation_id in list(self._subscribers):
            self._deliver(conversation_id, RESYNC)

    def _deliver(self, conversation_id: str, item: Item) -> None:
        for queue in self._subscribers.get(conversation_id, ()):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                log.warning("stream subscriber too slow, closing it")
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(OVERFLOW)
