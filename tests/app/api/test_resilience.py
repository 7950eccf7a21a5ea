"""Failure cases with the real servers: Redis killed mid-test, PostgreSQL restarted."""

from __future__ import annotations

import json
import uuid

import httpx
import redis


def _messages(api, user, conv_id: str, **params) -> httpx.Response:
    return api.get(f"/v1/conversations/{conv_id}/messages", params=params, headers=user.headers)


def test_redis_down_reads_and_writes_still_served(
    api, auth, redis_server, user, make_conversation, post_message, read_all, forwarded_for, wait_until
):
    conv = make_conversation(user)
    before = [post_message(user, conv["id"], f"before-{i}") for i in range(5)]
    assert _messages(api, user, conv["id"]).status_code == 200  # cached in L1 and L2

    redis_server.stop(kill=True)
    try:
        # Cached and uncached reads both keep working: the cache fails open to Postgres.
        assert [m["id"] for m in _messages(api, user, conv["id"]).json()["items"]] == [m["id"] for m in before]
        assert len(_messages(api, user, conv["id"], limit=2).json()["items"]) == 2
        assert api.get(f"/v1/conversations/{conv['id']}", headers=user.headers).status_code == 200
        # Writes too; the event waits in the outbox.
        during = post_message(user, conv["id"], "during outage")
        assert [m["id"] for m in read_all(user, conv["id"])] == [m["id"] for m in before] + [during["id"]]
        # Login (rate limits fall back to in-process counting) and readiness, which reports the degradation.
        r = auth.post("/auth/login", json={"email": user.email, "password": user.password}, headers=forwarded_for())
        assert r.status_code == 200
        assert api.get("/ready").json() == {"status": "ok", "database": "ok", "cache": "degraded"}
    finally:
        redis_server.start()

    # Once Redis is back, the event published during the outage is relayed from the outbox.
    def relayed() -> bool:
        client = redis.Redis.from_url(redis_server.url)
        try:
            entries = client.xrange("grid:events", "-", "+")
        finally:
            client.close()
        return any(json.loads(f[b"data"])["message"]["id"] == during["id"] for _, f in entries)

    assert wait_until(relayed, timeout=15)
    assert wait_until(lambda: api.get("/ready").json()["cache"] == "ok", timeout=10)
    # And nothing stale is served after recovery.
    after = post_message(user, conv["id"], "after outage")
    assert read_all(user, conv["id"])[-1]["id"] == after["id"]


def test_writes_during_a_redis_outage_are_never_read_stale_after_redis_and_services_restart(
    postgres, auth_server, scratch, user
):
    """Invalidate while Redis is down, restart Redis from its own (old) data, restart the services: no stale read."""
    from grid.local import LocalRedis
    from tests.app.conftest import start_api

    durable = LocalRedis(scratch / f"redis-{uuid.uuid4().hex[:8]}", persist=True)
    durable.start()
    first = start_api(postgres, durable, auth_server.url)
    second = None
    try:
        with httpx.Client(base_url=first.url, headers=user.headers, timeout=15) as api:
            agent = api.post("/v1/agents", json={"name": "before"}).json()
            conv = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": "t"}).json()
            messages = f"/v1/conversations/{conv['id']}/messages"
            api.post(messages, json={"role": "user", "content": "one"})
            # Both reads are now cached in Redis, which writes them to its append-only file on shutdown.
            assert api.get(f"/v1/agents/{agent['id']}").json()["name"] == "before"
            assert len(api.get(messages).json()["items"]) == 1
            durable.stop()
            assert api.patch(f"/v1/agents/{agent['id']}", json={"name": "after"}).status_code == 200
            assert api.post(messages, json={"role": "user", "content": "two"}).status_code == 201
        first.stop()
        durable.start()  # from its own data: the old entries are back
        second = start_api(postgres, durable, auth_server.url)
        with httpx.Client(base_url=second.url, headers=user.headers, timeout=15) as api:
            assert api.get(f"/v1/agents/{agent['id']}").json()["name"] == "after"
            assert [m["content"] for m in api.get(messages).json()["items"]] == ["one", "two"]
    finally:
        for server in (first, second):
            if server is not None:
                server.stop()
        durable.stop()


def test_database_restart_recovers_without_losing_committed_writes(
    api, postgres, user, make_conversation, post_message, read_all, wait_until
):
    conv = make_conversation(user)
    committed = [post_message(user, conv["id"], f"durable-{i}")["id"] for i in range(5)]

    postgres.stop()
    try:
        r = api.post(
            f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": "x"}, headers=user.headers
        )
        assert r.status_code == 503
        assert r.json()["detail"] == "service temporarily unavailable"
        assert "psycopg" not in r.text and "postgres" not in r.text.lower()
        assert api.get("/ready").status_code == 503
    finally:
        postgres.resume()

    assert wait_until(lambda: api.get("/ready").status_code == 200, timeout=30)
    later = post_message(user, conv["id"], "after restart")["id"]
    assert [m["id"] for m in read_all(user, conv["id"])] == [*committed, later]
