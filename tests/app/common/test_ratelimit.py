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
        await b.refund(key)
        assert (await b.hit(key, 60)).count == 2
        await b.reset(key)
        assert (await b.hit(key, 60)).count == 1

    asyncio.run(go())


def test_several_keys_are_counted_in_one_step(redis_server):
    async def go():
        limiter = RateLimiter(SafeRedis(redis_server.url))
        a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
        await limiter.hit(a, 60)
        usages = await limiter.hit_all([a, b], 60)
        assert [u.count for u in usages] == [2, 1]
        assert usages[0].exceeded(1) and not usages[1].exceeded(1)

    asyncio.run(go())


def test_falls_back_to_in_process_counting_without_redis():
    async def go():
        limiter = RateLimiter(SafeRedis(f"redis://127.0.0.1:{free_port()}/0"))
        for i in range(1, 4):
            assert (await limiter.hit("k", 60)).count == i
        assert (await limiter.hit("k", 60)).exceeded(3)
        await limiter.reset("k")
        assert not (await limiter.hit("k", 60)).exceeded(1)

    asyncio.run(go())
