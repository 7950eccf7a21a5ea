"""message.created events: Redis Streams locally, Google Pub/Sub (REST) in the cloud, via the outbox."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import redis
from fastapi import FastAPI, Request

from app.common.gcp import TOKEN_PATH, metadata_url
from app.common.pubsub import Event, PubSubPublisher

TOPIC = "projects/grid-test-1/topics/messages"


def _stream_events(redis_url: str) -> list[dict]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [
            {k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange("grid:events", "-", "+")
        ]
    finally:
        client.close()


def test_created_messages_are_published_to_the_redis_stream(
    user, make_conversation, post_message, redis_server, wait_until
):
    conv = make_conversation(user)
    sent = post_message(user, conv["id"], "event me")

    def published() -> list[dict]:
        return [e for e in _stream_events(redis_server.url) if json.loads(e["data"])["message"]["id"] == sent["id"]]

    assert wait_until(lambda: bool(published()))
    (event,) = published()
    assert event["type"] == "message.created"
    data = json.loads(event["data"])
    assert data["message"] == sent
    assert data["user_id"] == user.id and data["agent_id"] == conv["agent_id"]


def _pubsub_app(received: list[dict]) -> FastAPI:
    """A stand-in for the Pub/Sub REST endpoint (as the emulator exposes it), recording what it receives."""
    app = FastAPI()

    @app.post("/v1/projects/{project}/topics/{topic}:publish")
    async def publish(project: str, topic: str, request: Request) -> dict:
        body = await request.json()
        received.append({"topic": f"projects/{project}/topics/{topic}", "body": body, "headers": dict(request.headers)})
        return {"messageIds": [str(i) for i in range(len(body["messages"]))]}

    return app


def test_api_publishes_to_pubsub_when_configured(
    server_thread, new_api_instance, make_user, make_conversation, wait_until
):
    received: list[dict] = []
    emulator = server_thread(_pubsub_app(received))
    api = new_api_instance(
        EVENTS_BACKEND="pubsub", PUBSUB_TOPIC=TOPIC, PUBSUB_EMULATOR_HOST=f"127.0.0.1:{emulator.port}"
    )
    try:
        _publish_through(api, received, make_user, make_conversation, wait_until)
    finally:
        # Instances share the outbox: this one must not go on relaying other tests' events to the fake.
        api.stop()


def _publish_through(api, received, make_user, make_conversation, wait_until) -> None:
    user = make_user()
    conv = make_conversation(user)
    r = httpx.post(
        f"{api.url}/v1/conversations/{conv['id']}/messages",
        json={"role": "user", "content": "to pubsub"},
        headers=user.headers,
    )
    assert r.status_code == 201

    def mine() -> list[dict]:
        out = []
        for call in received:
            for m in call["body"]["messages"]:
                data = json.loads(base64.b64decode(m["data"]))
                if data["message"]["id"] == r.json()["id"]:
                    out.append({"call": call, "message": m, "data": data})
        return out

    assert wait_until(lambda: bool(mine()))
    (hit,) = mine()
    assert hit["call"]["topic"] == TOPIC
    assert hit["message"]["attributes"]["type"] == "message.created"
    assert hit["data"]["message"]["content"] == "to pubsub"
    # The emulator needs no credentials, like Google's own clients behave with PUBSUB_EMULATOR_HOST.
    assert "authorization" not in hit["call"]["headers"]


def test_pubsub_publisher_authenticates_with_the_metadata_server_token():
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if str(request.url) == metadata_url(TOKEN_PATH):
            assert request.headers["Metadata-Flavor"] == "Google"
            return httpx.Response(200, json={"access_token": "ya29.token", "expires_in": 3599, "token_type": "Bearer"})
        assert str(request.url) == f"https://pubsub.googleapis.com/v1/{TOPIC}:publish"
        return httpx.Response(200, json={"messageIds": ["1", "2"]})

    async def go() -> None:
        publisher = PubSubPublisher(TOPIC, http=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
        events = [Event(f"e{i}", "message.created", "2026-01-01T00:00:00Z", {"n": i}) for i in range(2)]
        await publisher.publish(events)
        await publisher.publish(events)
        await publisher.close()

    asyncio.run(go())
    publishes = [c for c in calls if "pubsub" in str(c.url)]
    assert len(publishes) == 2
    # The token is fetched once and reused until it nears expiry.
    assert len(calls) == 3
    assert publishes[0].headers["Authorization"] == "Bearer ya29.token"
    body = json.loads(publishes[0].content)
    assert [json.loads(base64.b64decode(m["data"])) for m in body["messages"]] == [{"n": 0}, {"n": 1}]
    assert body["messages"][1]["attributes"] == {"type": "message.created", "id": "e1", "time": "2026-01-01T00:00:00Z"}


def test_pubsub_errors_propagate_so_the_outbox_retries():
    async def go() -> None:
        transport = httpx.MockTransport(lambda r: httpx.Response(503))
        publisher = PubSubPublisher(TOPIC, emulator_host="localhost:1", http=httpx.AsyncClient(transport=transport))
        with pytest.raises(httpx.HTTPStatusError):
            await publisher.publish([Event("e", "message.created", "t", {})])

    asyncio.run(go())
