"""A Redis client that fails fast: short timeouts, no retries, and a circuit breaker.

Redis is an accelerator here, never a dependency of correctness. When it is down, callers fall back (the cache
reads the database, rate limits count in-process), and the breaker keeps every request from paying a timeout
while Redis stays down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.common.redispy import without_otel_sdk_probe
from app.common.startup import retry_connect

with without_otel_sdk_probe():  # redis-py's import-time probe for the OpenTelemetry SDK (app/common/redispy.py)
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import AuthenticationError, RedisError

log = logging.getLogger("app.redis")

T = TypeVar("T")


class RedisUnavailable(Exception):
    pass


def connect(url: str, ca_pem: str | None = None, **options: Any) -> aioredis.Redis:
    """A client for ``url``. Over TLS (``rediss://``) the server's certificate is always verified: against
    ``ca_pem`` when given (REDIS_CA_CERT, Memorystore's server CA), else against the system's CAs.

    A Memorystore instance signs its server certificate with CAs unique to the instance, and clients reach it by
    IP address (https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption#certificate_authority).
    Google documents no subject-alternative name matching that address (users report the IP in the CN only, e.g.
    https://github.com/envoyproxy/ratelimit/pull/409), so with the instance's own CAs pinned the chain alone
    establishes the server's identity and the name check is off. With the system's CAs it stays on.
    """
    if url.startswith("rediss://"):
        options["ssl_cert_reqs"] = "required"
        if ca_pem:
            options.update(ssl_ca_data=ca_pem, ssl_check_hostname=False)
    return aioredis.from_url(url, **options)


class _Refused(Exception):
    """Redis answered but refused the credentials."""


class SafeRedis:
    def __init__(self, url: str, *, ca_pem: str | None = None, timeout: float = 0.25, cooldown: float = 1.0) -> None:
        self.client: aioredis.Redis = connect(
            url,
            ca_pem,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
            max_connections=64,
        )
        self.url = url
        self.ca_pem = ca_pem
        self.cooldown = cooldown
        self._open_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    async def run(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run one Redis operation or raise RedisUnavailable (immediately while the breaker is open)."""
        if not self.available:
            raise RedisUnavailable("circuit open")
        try:
            return await op(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            if self.available:
                # The reason (refused, TLS verification, AUTH) goes in the log: failing open must not be silent.
                log.warning("redis unavailable, failing open for %.1fs: %s: %s", self.cooldown, type(exc).__name__, exc)
            self._open_until = time.monotonic() + self.cooldown
            raise RedisUnavailable(type(exc).__name__) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.run(lambda r: r.ping()))
        except RedisUnavailable:
            return False

    async def wait_until_reachable(self, budget: float) -> bool:
        """At instance start: retry a ping for ``budget`` seconds; False (and degraded, not fatal) if never up."""

        async def ping() -> None:
            try:
                await self.client.ping()
            except AuthenticationError as exc:  # reached, but refused: waiting will not change that
                raise _Refused() from exc
            except RedisError as exc:
                # Nor will a server certificate that fails verification (wrong or missing REDIS_CA_CERT).
                if isinstance(exc.__cause__ or exc.__context__, ssl.SSLError):
                    raise _Refused() from exc
                raise

        try:
            await retry_connect(ping, what="redis", budget=budget, retry_on=(RedisError, OSError, TimeoutError))
        except (RedisError, OSError, TimeoutError, _Refused):
            return False
        return True

    async def close(self) -> None:
        await self.client.aclose()


Handler = Callable[[bytes, bytes], Awaitable[None] | None]


async def listen_forever(
    safe: SafeRedis,
    *,
    channels: tuple[str, ...] = (),
    patterns: tuple[str, ...] = (),
    handler: Handler,
    on_subscribed: Callable[[], None] | None = None,
) -> None:
    """Deliver pub/sub messages to `handler(channel, data)` until cancelled, reconnecting after outages.

    Uses its own connection without a read timeout: a subscriber is idle by nature. Pub/sub keeps nothing for a
    subscriber that is not connected, so `on_subscribed()` is called each time the subscription is (re)made, once
    Redis has confirmed it: whatever was published in between is lost and the caller catches up on its own.
    """
    client = connect(safe.url, safe.ca_pem, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0))
    backoff = 0.2
    try:
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                if channels:
                    await pubsub.subscribe(*channels)
                if patterns:
                    await pubsub.psubscribe(*patterns)
                backoff = 0.2
                confirmed = False
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if not confirmed and on_subscribed is not None:
                        # The first read consumed the subscription's confirmation (or waited it out).
                        confirmed = True
                        on_subscribed()
                    if msg is None:
                        continue
                    result = handler(msg["channel"], msg["data"])
                    if result is not None:
                        await result
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError):
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("pub/sub handler failed")
                await asyncio.sleep(backoff)
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await pubsub.aclose()
    finally:
        await client.aclose()
