"""The Redis Streams consumer group against the session's real redis-server."""

from __future__ import annotations

import asyncio
import json
import uuid

import redis as sync_redis

from app.common.streams import StreamConsumer, StreamEvent


def _publish(url: str, stream: str, n: int) -> list[str]:
    client = sync_redis.Redis.from_url(url)
    ids = []
    for i in range(n):
        event_id = str(uuid.uuid4())
        client.xadd(stream, {"id": event_id, "type": "message.created", "time": "t", "data": json.dumps({"i": i})})
        ids.append(event_id)
    client.xadd(stream, {"garbage": "1"})  # unreadable entries are dropped, not retried forever
    client.close()
    return ids


def test_every_group_gets_every_event_and_failures_are_redelivered(redis_server):
    stream = f"test:events:{uuid.uuid4().hex}"
    published = _publish(redis_server.url, stream, 5)

    async def run() -> tuple[list[str], list[str], int]:
        seen_a: list[str] = []
        seen_b: list[str] = []
        failures = 0

        async def handler_a(events: list[StreamEvent]) -> None:
            seen_a.extend(e.id for e in events)

        async def flaky_b(events: list[StreamEvent]) -> None:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise RuntimeError("transient")
            seen_b.extend(e.id for e in events)

        a = StreamConsumer(redis_server.url, stream, "group-a", handler_a, block_ms=100)
        b = StreamConsumer(redis_server.url, stream, "group-b", flaky_b, block_ms=100, retry_after=0.3)
        a.start()
        b.start()
        try:
            for _ in range(100):
                if len(seen_a) >= 5 and len(seen_b) >= 5:
                    break
                await asyncio.sleep(0.05)
        finally:
            await a.stop()
            await b.stop()
        return seen_a, seen_b, failures

    seen_a, seen_b, failures = asyncio.run(run())
    assert seen_a == published
    assert failures == 1 and seen_b == published  # the failed batch came back after retry_after
    client = sync_redis.Redis.from_url(redis_server.url)
    assert client.xpending(stream, "group-a")["pending"] == 0
    assert client.xpending(stream, "group-b")["pending"] == 0
    client.close()
