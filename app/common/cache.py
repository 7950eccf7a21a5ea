"""Two-layer cache: an in-process L1 with a short TTL in front of Redis (L2), failing open when Redis is down.

Invalidation is by tag. Each tag has a version in Postgres (table cache_versions), bumped by `bump()` inside the
writing transaction, so it commits or rolls back with the data. An L2 entry records the versions it was built
from (read before its data was loaded) and is only served while they still match. Keeping versions in Redis
instead (as before) lost invalidations made while Redis was down, and a Redis restarted from its own data
served the old entries as current for the whole L2 lifetime; with the versions next to the data, whatever Redis
did or restored, an entry older than a committed write can never match. The price is one primary-key read of
the versions per L1 miss.

L1 entries are dropped locally at once (the writer's next read is fresh) and on other instances through a Redis
pub/sub channel; if that message is lost (Redis down), other instances converge within the L1 TTL.
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
from uuid import UUID

from app.common.db import Conn, Database, Statement
from app.common.metrics import METRICS
from app.common.redis import RedisUnavailable, SafeRedis, listen_forever

log = logging.getLogger("app.cache")


@dataclass
class _Entry:
    expires: float
    value: bytes
    tags: tuple[str, ...]


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# The tags' versions as "<v1>,<v2>,..." in the tags' order, 0 for a tag never bumped: an SQL expression.
_VERSIONS = (
    "(SELECT coalesce(string_agg(coalesce(c.version, 0)::text, ',' ORDER BY t.n), '')"
    " FROM unnest(%s::text[]) WITH ORDINALITY AS t(tag, n) LEFT JOIN cache_versions c ON c.tag = t.tag)"
)


def _versions_statement(tags: tuple[str, ...]) -> Statement:
    """One row whose `v` is the tags' versions."""
    return (f"SELECT {_VERSIONS} AS v", (list(tags),)) if tags else ("SELECT '' AS v", ())


def _valid_body(raw: bytes | None, versions: bytes) -> bytes | None:
    """The body of an L2 entry ("<tag versions>\\n<body>"), if it was built at `versions` (else it is stale)."""
    if raw is None:
        return None
    stored_versions, _, body = raw.partition(b"\n")
    return body if stored_versions == versions else None


class TwoLayerCache:
    def __init__(
        self,
        redis: SafeRedis | None,
        *,
        db: Database | None = None,
        l1_ttl: float,
        l2_ttl: int,
        max_bytes: int = 32 * 1_048_576,
        namespace: str = "grid:cache",
    ) -> None:
        self.redis = redis
        self.db = db
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
        hit = self._l1_get(key)
        if hit is not None:
            return hit
        generation = self._generation
        body, versions = await self._l2_get(key, tags)
        stored = body is not None
        METRICS.cache_lookup(self.ns, "l2" if stored else "miss")
        if body is None:
            body = encode(await loader())
        return await self._keep(key, body, tags, generation, versions, stored)

    async def get_or_read(
        self,
        key: str,
        statement: Statement,
        value: Callable[[list[Any]], Any],
        tags: Iterable[str],
        *,
        user_id: UUID,
    ) -> bytes:
        """`get_or_load` for `value(rows)` of the rows `statement` reads from Postgres in a transaction of `user_id`.

        Redis is asked first. Only an L2 entry that exists needs the tags' versions before the value is read (if
        they match, the value is not read at all); on a miss in both layers, the common case for a page nobody read
        lately, the versions and the value are read by one transaction in one round trip (`Database.read`), the
        versions first, which is all the version check needs. Each round trip costs the service more CPU than
        anything else on this path (profiled in docs/benchmarks.md, "App services").
        """
        tags = tuple(tags)
        hit = self._l1_get(key)
        if hit is not None:
            return hit
        if self.db is None:
            raise ValueError("get_or_read needs the database to read from")
        generation = self._generation
        l2 = self._l2_usable()
        raw = await self._l2_raw(key) if l2 else None
        if raw is not None:
            versions = await self._versions(tags)
            body = _valid_body(raw, versions)
            if body is not None:
                METRICS.cache_lookup(self.ns, "l2")
                return await self._keep(key, body, tags, generation, versions, True)
        (read,), rows = await self.db.read(user_id, [_versions_statement(tags), statement])
        METRICS.cache_lookup(self.ns, "miss")  # a miss whatever `value` makes of the rows (even NotFound)
        body = encode(value(rows))
        return await self._keep(key, body, tags, generation, read["v"].encode() if l2 else None, False)

    def _l1_get(self, key: str) -> bytes | None:
        entry = self._l1.get(key)
        if entry is not None and entry.expires > time.monotonic():
            self._l1.move_to_end(key)
            METRICS.cache_lookup(self.ns, "l1")
            return entry.value
        return None

    async def _keep(
        self, key: str, body: bytes, tags: tuple[str, ...], generation: int, versions: bytes | None, stored: bool
    ) -> bytes:
        """Store a body just loaded (`stored`: it came from L2) in L2 under the versions read before it, and in L1."""
        if not stored and versions is not None:
            await self._l2_set(key, body, versions)
        # An invalidation while we were loading means `body` may predate it: serve it, don't keep it.
        if generation == self._generation:
            self._l1_put(key, body, tags)
        return body

    def _l2_usable(self) -> bool:
        return self.redis is not None and self.redis.available

    async def _l2_get(self, key: str, tags: tuple[str, ...]) -> tuple[bytes | None, bytes | None]:
        if not self._l2_usable():
            return None, None
        # Versions first: read before the loader runs, they can only be older than the data stored under them.
        versions, raw = await asyncio.gather(self._versions(tags), self._l2_raw(key))
        return _valid_body(raw, versions), versions

    async def _l2_raw(self, key: str) -> bytes | None:
        try:
            return cast("bytes | None", await self.redis.run(lambda r: r.get(self._key(key))))  # type: ignore[union-attr]
        except RedisUnavailable:
            return None

    async def _versions(self, tags: tuple[str, ...]) -> bytes:
        if not tags:
            return b""
        if self.db is None:
            raise ValueError("tagged cache entries need the database that holds their tags' versions")
        ((read,),) = await self.db.read(None, [_versions_statement(tags)])
        return cast(str, read["v"]).encode()

    async def _l2_set(self, key: str, body: bytes, versions: bytes) -> None:
        with contextlib.suppress(RedisUnavailable):
            await self.redis.run(lambda r: r.set(self._key(key), versions + b"\n" + body, ex=self.l2_ttl))  # type: ignore[union-attr]

    # -- invalidation ----------------------------------------------------------------------------------------

    @staticmethod
    async def bump(conn: Conn, *tags: str) -> None:
        """Make every L2 entry built on `tags` unservable; call inside the transaction that changes the data."""
        # Sorted: concurrent writers lock the version rows in one order, so they cannot deadlock each other.
        await conn.execute(
            "INSERT INTO cache_versions (tag) SELECT unnest(%s::text[]) ORDER BY 1"
            " ON CONFLICT (tag) DO UPDATE SET version = cache_versions.version + 1",
            (sorted(set(tags)),),
        )

    async def invalidate(self, *tags: str) -> None:
        """Drop L1 entries built on `tags`, here at once and on other instances through pub/sub (best effort)."""
        self._evict_local(tags)
        if self.redis is None:
            return
        message = json.dumps({"i": self.instance, "t": list(tags)})
        with contextlib.suppress(RedisUnavailable):
            await self.redis.run(lambda r: r.publish(self.channel, message))  # type: ignore[union-attr]

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
