"""grid local's event bus end to end: a message posted to the api reaches the ai indexer (searchable) and the
ml-analytics aggregator (counted once) through the local Redis stream, all behind one port."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import psycopg

from grid.local import build_apps
from tests.app.conftest import PASSWORD, TEST_OVERRIDES, ServerThread, random_ip


def test_message_created_reaches_the_indexer_and_the_aggregator(
    postgres, redis_server, scratch, embedder, wait_until, monkeypatch
):
    from grid.local import free_port

    # build_apps hands the functions their configuration through the environment, as Cloud Functions does;
    # monkeypatch restores this process's environment afterwards.
    monkeypatch.setenv("DATABASE_URL", postgres.url)
    monkeypatch.setenv("ENVIRONMENT", "local")
    port = free_port()
    overrides = {k: v for k, v in TEST_OVERRIDES.items() if k != "ENVIRONMENT"}
    router = build_apps(database_url=postgres.url, redis_url=redis_server.url, data_dir=scratch, port=port, **overrides)
    server = ServerThread(router, port=port).start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": random_ip()}) as c:
            email = f"bus-{uuid.uuid4().hex[:8]}@example.com"
            r = c.post("/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Bus"})
            assert r.status_code == 201, r.text
            user_id = r.json()["id"]
            token = c.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            agent = c.post("/v1/agents", json={"name": "bus"}, headers=h).json()
            conv = c.post("/v1/conversations", json={"agent_id": agent["id"], "title": "bus"}, headers=h).json()
            texts = ["The lighthouse keeper lit the lamp at dusk.", "Quarterly revenue grew by twelve percent."]
            ids = [
                c.post(
                    f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": t}, headers=h
                ).json()["id"]
                for t in texts
            ]

            def searchable() -> bool:
                r = c.post("/ai/search", json={"query": "sales went up", "limit": 5}, headers=h)
                return r.status_code == 200 and len(r.json()["items"]) == 2

            assert wait_until(searchable, timeout=60)
            items = c.post("/ai/search", json={"query": "sales went up"}, headers=h).json()["items"]
            assert items[0]["message_id"] == ids[1]

            def counted() -> bool:
                with psycopg.connect(postgres.url) as conn:
                    row = conn.execute(
                        "SELECT messages, chars FROM usage_daily WHERE user_id = %s AND day = %s",
                        (user_id, datetime.now(UTC).date()),
                    ).fetchone()
                return row == (2, sum(len(t) for t in texts))

            assert wait_until(counted, timeout=30)
            assert c.post("/fn/korean-nlp/analyze", json={"text": "서울은 한국의 수도입니다."}).status_code == 200
            # ml-analytics is for platform identities only: fed above, not served on the port.
            r = c.post("/fn/ml-analytics/anomalies", json={"series": [{"t": i, "value": 1} for i in range(10)]})
            assert r.status_code == 404
    finally:
        server.stop()
