from __future__ import annotations

import asyncio
import uuid

from app.common.ratelimit import RateLimiter
from app.common.redis import SafeRedis
from grid.local import free_port


def test_counts_are_shared_through_redis(redis_server):
    async def go():
        a, b = RateLimiter(SafeRedis(redis_server.url)), RateLimiter(SafeRedis(redis_server.url))
        key = f"k-{uuid.uuid4()}"
        assert (await a.hit(key, 60)).count == 1
        usage = await b.hit(key, 60)
        assert usage.count == 2 and 0 < usage.retry_after <= 60
        assert (await a.peek(key)).count == 2
        await b.reset(key)
        assert (await a.peek(key)).count == 0

    asyncio.run(go())


def test_falls_back_to_in_process_counting_without_redis():
    async def go():
        limiter = RateLimiter(SafeRedis(f"redis://127.0.0.1:{free_port()}/0"))
        for i in range(1, 4):
            assert (await limiter.hit("k", 60)).count == i
        assert (await limiter.peek("k")).exceeded(3)
        await limiter.reset("k")
        assert not (await limiter.peek("k")).exceeded(1)

    asyncio.run(go())
