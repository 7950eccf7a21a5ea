"""Fixed-window rate limiting in Redis, shared by all instances, with a conservative in-process fallback.

Every limit is count-then-decide in one step: an attempt is counted first (one Redis round trip, a script that
increments every key the decision needs) and allowed only if the counts it got back are within the limits. Each
INCR returns a distinct number, so however many requests race, at most `limit` of them see a count within it;
checking first and counting afterwards (what this replaced) let a burst through whole.

The fallback never splits counts between Redis and memory: every attempt is also counted in-process, and a
decision uses the larger of the two counts. While Redis is slow or down an instance therefore still stops at the
full limit on its own (cluster-wide at most limit x instances, bounded by the service's max instances). It does
not fail closed altogether: that would turn a Redis outage into a lockout of every user.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from app.common.localrate import LocalWindows, Usage
from app.common.redis import RedisUnavailable, SafeRedis

# For each key: INCR, and start the window's expiry on the first hit (or if a key somehow lost its TTL).
_HIT = """
local out = {}
for i, key in ipairs(KEYS) do
  local c = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if c == 1 or ttl < 0 then redis.call('EXPIRE', key, ARGV[1]); ttl = tonumber(ARGV[1]) end
  out[i] = {c, ttl}
end
return out
"""

# Give back one attempt (a successful login is not a failure); never below zero, never creating a key.
_REFUND = """
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c > 0 then redis.call('DECR', KEYS[1]) end
return c
"""


class RateLimiter:
    def __init__(self, redis: SafeRedis | None, namespace: str = "grid:rl") -> None:
        self.redis = redis
        self.ns = namespace
        self._local = LocalWindows()
        self._hit = redis.client.register_script(_HIT) if redis is not None else None
        self._refund = redis.client.register_script(_REFUND) if redis is not None else None

    async def hit(self, key: str, window: int) -> Usage:
        """Count one event against `key` and return the window's usage including it."""
        return (await self.hit_all([key], window))[0]

    async def hit_all(self, keys: Sequence[str], window: int) -> list[Usage]:
        """Count one event against each key, atomically and in one Redis round trip."""
        full = [f"{self.ns}:{k}" for k in keys]
        local = [self._local.hit(k, window) for k in full]
        if self._hit is None or self.redis is None:
            return local
        script = self._hit
        try:
            shared = await self.redis.run(lambda r: script(keys=full, args=[window], client=r))
        except RedisUnavailable:
            return local
        return [
            Usage(max(int(c), mine.count), max(int(ttl), mine.retry_after, 1))
            for (c, ttl), mine in zip(shared, local, strict=True)
        ]

    async def refund(self, key: str) -> None:
        """Take back one counted event (best effort)."""
        full = f"{self.ns}:{key}"
        self._local.refund(full)
        if self._refund is not None and self.redis is not None:
            script = self._refund
            with contextlib.suppress(RedisUnavailable):
                await self.redis.run(lambda r: script(keys=[full], client=r))

    async def reset(self, key: str) -> None:
        full = f"{self.ns}:{key}"
        self._local.reset(full)
        if self.redis is not None:
            with contextlib.suppress(RedisUnavailable):
                await self.redis.run(lambda r: r.delete(full))
