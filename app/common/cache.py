"""Two-layer cache: an in-process L1 with a short TTL in front of Redis (L2), failing open when Redis is down.

Invalidation is by tag. Each tag has a version token in Redis; an L2 entry records the versions it was built
from and is only served while they still match, so a reader racing a writer can never resurrect stale data for
longer than nothing at all. L1 entries are dropped locally at once and on other instances through a Redis
pub/sub channel; if Redis is down, other instances converge within the L1 TTL, and invalidations that could not
reach Redis are replayed when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from app.common.redis import RedisUnavailable, SafeRedis, listen_forever

log = logging.getLogger("app.cache")

_MISSING = object()
_TAG_VERSION_TTL = 7 * 24 * 3600


@dataclass
class _Entry:
    expires: float
    value: bytes
    tags: tuple[str, ...]


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class TwoLayerCache:
    def __init__(
        self,
        redis: SafeRedis | None,
        *,
        l1_ttl: float,
        l2_ttl: int,
        max_bytes: int = 32 * 1_048_576,
        namespace: str = "grid:cache",
    ) -> None:
        self.redis = redis
        self.l1_ttl = l1_ttl
        self.l2_ttl = l2_ttl
        self.max_bytes = max_bytes
        self._bytes = 0
        self.ns = namespace
        self.channel = f"{namespace}:invalidate"
        self.instance = uuid.uuid4().hex
        self._l1: OrderedDict[str, _Entry] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}
        # Bumped by every invalidation; a load that saw it change keeps its result out of L1.
        self._generation = 0
        self._pending: set[str] = set()
        self._listener: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.redis is not None and self._listener is None:
            self._listener = asyncio.create_task(
                listen_forever(self.redis, channels=(self.channel,), handler=self._on_remote_invalidation)
            )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    # -- reads -----------------------------------------------------------------------------------------------

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[Any]], tags: Iterable[str] = ()) -> bytes:
        """The JSON encoding of the value for `key`, loading (and caching) it on a miss.

        Values are kept encoded in both layers, so a hit is served without serialising anything and L1's memory
        budget is counted in real bytes.
        """
        tags = tuple(tags)
        entry = self._l1.get(key)
        if entry is not None and entry.expires > time.monotonic():
            self._l1.move_to_end(key)
            return entry.value
        generation = self._generation
        body, versions = await self._l2_get(key, tags)
        if body is None:
            body = encode(await loader())
            if versions is not None:
                await self._l2_set(key, body, versions)
        # An invalidation while we were loading means `body` may predate it: serve it, don't keep it.
        if generation == self._generation:
            self._l1_put(key, body, tags)
        return body

    async def _l2_get(self, key: str, tags: tuple[str, ...]) -> tuple[bytes | None, bytes | None]:
        if self.redis is None:
            return None, None
        try:
            await self._replay_pending()
            raw = cast(  # decode_responses=False: values are bytes
                "list[bytes | None]",
                await self.redis.run(lambda r: r.mget([self._key(key), *(self._tag_key(t) for t in tags)])),
            )
        except RedisUnavailable:
            return None, None
        # L2 entries are "<tag versions>\n<body>": valid only while every tag still has the version it was built at.
        versions = b",".join(v or b"0" for v in raw[1:])
        if raw[0] is not None:
            stored_versions, _, body = raw[0].partition(b"\n")
            if stored_versions == versions:
                return body, versions
        return None, versions

    async def _l2_set(self, key: str, body: bytes, versions: bytes) -> None:
        with contextlib.suppress(RedisUnavailable):
            await self.redis.run(lambda r: r.set(self._key(key), versions + b"\n" + body, ex=self.l2_ttl))  # type: ignore[union-attr]

    # -- invalidation ----------------------------------------------------------------------------------------

    async def invalidate(self, *tags: str) -> None:
        self._evict_local(tags)
        if self.redis is None:
            return
        try:
            await self._bump_versions(tags, publish=True)
        except RedisUnavailable:
            self._pending.update(tags)

    async def _bump_versions(self, tags: Iterable[str], *, publish: bool) -> None:
        tags = tuple(tags)

        async def op(r: Any) -> Any:
            pipe = r.pipeline(transaction=False)
            for tag in tags:
                pipe.set(self._tag_key(tag), uuid.uuid4().hex, ex=_TAG_VERSION_TTL)
            if publish:
                pipe.publish(self.channel, json.dumps({"i": self.instance, "t": list(tags)}))
            return await pipe.execute()

        await self.redis.run(op)  # type: ignore[union-attr]

    async def _replay_pending(self) -> None:
        if self._pending:
            tags = tuple(self._pending)
            await self._bump_versions(tags, publish=True)
            self._pending.difference_update(tags)

    def _on_remote_invalidation(self, _channel: bytes, data: bytes) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            return
        if msg.get("i") != self.instance:
            self._evict_local(msg.get("t", ()))

    def _evict_local(self, tags: Iterable[str]) -> None:
        self._generation += 1
        for tag in tags:
            for key in self._by_tag.pop(tag, ()):
                self._drop(key)

    # -- L1 bookkeeping --------------------------------------------------------------------------------------

    def _l1_put(self, key: str, value: bytes, tags: tuple[str, ...]) -> None:
        self._drop(key)
        if len(value) > self.max_bytes // 8:
            return  # one huge value must not flush everything else
        self._l1[key] = _Entry(time.monotonic() + self.l1_ttl, value, tags)
        self._bytes += len(value)
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._l1)))

    def _drop(self, key: str) -> None:
        entry = self._l1.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry.value)
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def _key(self, key: str) -> str:
        return f"{self.ns}:k:{key}"

    def _tag_key(self, tag: str) -> str:
        return f"{self.ns}:t:{tag}"
