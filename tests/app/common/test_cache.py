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


def test_get_or_read_reads_versions_and_value_in_the_users_transaction(redis_server, postgres):
    """The api's read path: one transaction for the user reads the tags' versions and the value (one round trip);
    its L2 entries are the ones get_or_load writes and reads, and a bump makes them unservable."""
    user = "6f1c2a52-8d43-4b8e-9a55-0f5d2b1f7e01"

    async def go():
        async with _database(postgres) as db:
            await body(db)

    async def body(db):
        a, b = _cache(redis_server.url, "tq", db), _cache(redis_server.url, "tq", db)
        calls = []
        # The user as the statement sees it, and whether it runs in the transaction that read the versions.
        statement = ("SELECT current_setting('app.user_id', true) AS u, txid_current_if_assigned() AS x", ())

        def value(rows):
            calls.append(rows[0]["u"])
            return {"n": len(calls)}

        async def get(cache):
            return json.loads(await cache.get_or_read("k", statement, value, ["qa", "qb"], user_id=user))

        assert await get(a) == {"n": 1}
        assert calls == [user]  # the value was read with the user set
        assert await get(b) == {"n": 1}  # L2, built at the versions read in that transaction
        assert await _get(b, "k", Loader({"other": 1}), ["qa", "qb"]) == {"n": 1}  # one entry format for both paths
        await _write(a, "qb")
        c = _cache(redis_server.url, "tq", db)  # an instance with an empty L1: only L2 could answer
        assert await get(c) == {"n": 2}  # the L2 entry predates the bump: reloaded
        assert len(calls) == 2
        for cache in (a, b, c):
            await cache.redis.close()

    asyncio.run(go())
