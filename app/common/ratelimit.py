"""Fixed-window rate limiting in Redis, shared by all instances, with an in-process fallback.

If Redis is down the limits still hold per instance, which keeps brute-force protection on (weaker, never off).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

from app.common.redis import RedisUnavailable, SafeRedis

# INCR and set the window's expiry on first hit atomically (Redis 6 has no EXPIRE NX).
_HIT = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}
"""


@dataclass(frozen=True)
class Usage:
    count: int
    retry_after: int

    def exceeded(self, limit: int) -> bool:
        return self.count >= limit


class RateLimiter:
    def __init__(self, redis: SafeRedis | None, namespace: str = "grid:rl") -> None:
        self.redis = redis
        self.ns = namespace
        self._local: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, window: int) -> Usage:
        """Count one event against `key` and return the window's usage so far."""
        full = f"{self.ns}:{key}"
        if self.redis is not None:
            try:
                count, ttl = await self.redis.run(lambda r: r.eval(_HIT, 1, full, window))
                return Usage(int(count), max(int(ttl), 1))
            except RedisUnavailable:
                pass
        now = time.monotonic()
        count, reset_at = self._local.get(full, (0, now + window))
        if reset_at <= now:
            count, reset_at = 0, now + window
        self._local[full] = (count + 1, reset_at)
        self._prune(now)
        return Usage(count + 1, max(math.ceil(reset_at - now), 1))

    async def peek(self, key: str) -> Usage:
        full = f"{self.ns}:{key}"
        if self.redis is not None:
            try:

                async def op(r):  # type: ignore[no-untyped-def]
                    pipe = r.pipeline(transaction=False)
                    pipe.get(full)
                    pipe.ttl(full)
                    return await pipe.execute()

                raw, ttl = await self.redis.run(op)
                return Usage(int(raw or 0), max(int(ttl), 1))
            except RedisUnavailable:
                pass
        now = time.monotonic()
        count, reset_at = self._local.get(full, (0, now))
        if reset_at <= now:
            return Usage(0, 1)
        return Usage(count, max(math.ceil(reset_at - now), 1))

    async def reset(self, key: str) -> None:
        full = f"{self.ns}:{key}"
        self._local.pop(full, None)
        if self.redis is not None:
            with contextlib.suppress(RedisUnavailable):
                await self.redis.run(lambda r: r.delete(full))

    def _prune(self, now: float) -> None:
        if len(self._local) > 50_000:
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
