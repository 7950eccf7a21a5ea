"""The two-layer cache against a real Redis and Postgres (which holds the tag versions), including Redis being
unreachable or losing invalidations."""

from __future__ import annotations

import asyncio
import contextlib
import json

from app.common.cache import TwoLayerCache
from app.common.db import Database
from app.common.migrations import apply_migrations
from app.common.redis import SafeRedis
from grid.local import free_port


class Loader:
    def __init__(self, value):
        self.value = value
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        return self.value


def _get(cache: TwoLayerCache, key: str, loader, tags):
    async def go():
        return json.loads(await cache.get_or_load(key, loader, tags))

    return go()


def _cache(url: str, ns: str, db: Database, l1_ttl: float = 60.0) -> TwoLayerCache:
    return TwoLayerCache(SafeRedis(url), db=db, l1_ttl=l1_ttl, l2_ttl=60, namespace=ns)


@contextlib.asynccontextmanager
async def _database(postgres):
    await apply_migrations(postgres.url)
    db = Database(postgres.url)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def _write(cache: TwoLayerCache, *tags: str) -> None:
    """What a write does: bump the tags' versions in its transaction, then evict L1."""
    async with cache.db.transaction() as conn:
        await cache.bump(conn, *tags)
    await cache.invalidate(*tags)


def test_l1_then_l2_then_loader(redis_server, postgres):
    async def go():
        async with _database(postgres) as db:
            await body(db)

    async def body(db):
        a, b = _cache(redis_server.url, "t1", db), _cache(redis_server.url, "t1", db)
        load = Loader({"v": 1})
        assert await _get(a, "k", load, ["tag"]) == {"v": 1}
        assert await _get(a, "k", load, ["tag"]) == {"v": 1}  # L1
        assert await _get(b, "k", load, ["tag"]) == {"v": 1}  # L2, another "instance"
        assert load.calls == 1
        await a.redis.close()
        await b.redis.close()

    asyncio.run(go())


def test_invalidation_reaches_l2_and_other_instances_l1(redis_server, postgres):
    async def go():
        async with _database(postgres) as db:
            await body(db)

    async def body(db):
        a, b = _cache(redis_server.url, "t2", db), _cache(redis_server.url, "t2", db)
        a.start()
        b.start()
        await asyncio.sleep(0.2)  # let both subscribe
        old, new = Loader("old"), Loader("new")
        assert await _get(a, "k", old, ["conv:1"]) == "old"
        assert await _get(b, "k", old, ["conv:1"]) == "old"  # now in b's L1
        await _write(a, "conv:1")
        assert await _get(a, "k", new, ["conv:1"]) == "new"
        for _ in range(50):  # b drops its L1 entry when the pub/sub message arrives
            if await _get(b, "k", new, ["conv:1"]) == "new":
                break
            await asyncio.sleep(0.02)
        assert await _get(b, "k", new, ["conv:1"]) == "new"
        # Unrelated tags are untouched.
        other = Loader("other")
        assert await _get(a, "k2", other, ["conv:2"]) == "other"
        await _write(a, "conv:1")
        assert await _get(a, "k2", Loader("changed"), ["conv:2"]) == "other"
        for c in (a, b):
            await c.stop()
            await c.redis.close()

    asyncio.run(go())


def test_a_load_racing_an_invalidation_is_not_kept(redis_server, postgres):
    async def go():
        async with _database(postgres) as db:
            await body(db)

    async def body(db):
        cache = _cache(redis_server.url, "t3", db)
        gate = asyncio.Event()

        async def slow():
            await gate.wait()
            return "stale"

        reader = asyncio.create_task(_get(cache, "k", slow, ["t"]))
        await asyncio.sleep(0.05)
        await _write(cache, "t")  # a write commits while the read is in flight
        gate.set()
        assert await reader == "stale"  # served to the racing reader...
        assert await _get(cache, "k", Loader("fresh"), ["t"]) == "fresh"  # ...but never cached
        await cache.redis.close()

    asyncio.run(go())


def test_fails_open_when_redis_is_unreachable(postgres):
    async def go():
        async with _database(postgres) as db:
            cache = _cache(f"redis://127.0.0.1:{free_port()}/0", "t4", db, l1_ttl=0.05)
            load = Loader([1, 2])
            assert await _get(cache, "k", load, ["t"]) == [1, 2]
            assert await _get(cache, "k", load, ["t"]) == [1, 2]
            await _write(cache, "t")
            await asyncio.sleep(0.06)
            assert await _get(cache, "k", load, ["t"]) == [1, 2]
            assert load.calls == 2
            await cache.redis.close()

    asyncio.run(go())


def test_an_invalidation_redis_never_saw_still_hides_the_old_entry(redis_server, postgres):
    """As after an outage: the write's version bump reached Postgres only, and Redis still holds the old entry
    (say, restored from its own data). No process remembers anything: a new cache instance reads fresh."""

    async def go():
        async with _database(postgres) as db:
            before = _cache(redis_server.url, "t5", db)
            assert await _get(before, "k", Loader("v1"), ["t5"]) == "v1"  # in L2 now
            async with db.transaction() as conn:
                await before.bump(conn, "t5")  # no invalidate(): Redis is not told
            after = _cache(redis_server.url, "t5", db)  # a restarted service
            assert await _get(after, "k", Loader("v2"), ["t5"]) == "v2"
            assert await _get(_cache(redis_server.url, "t5", db), "k", Loader("v3"), ["t5"]) == "v2"  # cached again
            for c in (before, after):
                await c.redis.close()

    asyncio.run(go())


def test_l1_memory_is_bounded_in_bytes():
    async def go():
        cache = TwoLayerCache(None, l1_ttl=60, l2_ttl=60, max_bytes=10_000)
        for i in range(100):
            await cache.get_or_load(f"k{i}", Loader("x" * 500), ["t"])
        assert cache._bytes <= 10_000
        assert len(cache._l1) < 100
        # The most recent entries are the ones kept.
        assert "k99" in cache._l1 and "k0" not in cache._l1

    asyncio.run(go())
