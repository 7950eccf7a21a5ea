from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def make_agent(api) -> Callable[..., dict]:
    def make(user, **fields) -> dict:
        r = api.post("/v1/agents", json={"name": "helper", **fields}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def make_conversation(api, make_agent) -> Callable[..., dict]:
    def make(user, title: str = "chat") -> dict:
        agent = make_agent(user)
        r = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": title}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def post_message(api) -> Callable[..., dict]:
    def post(user, conversation_id: str, content: str, role: str = "user", key: str | None = None) -> dict:
        headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
        r = api.post(
            f"/v1/conversations/{conversation_id}/messages", json={"role": role, "content": content}, headers=headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    return post


@pytest.fixture
def read_all(api) -> Callable[..., list[dict]]:
    """Every message of a conversation, following next_cursor page by page."""

    def read(user, conversation_id: str, limit: int = 100) -> list[dict]:
        items, cursor = [], None
        for _ in range(10_000):
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            r = api.get(f"/v1/conversations/{conversation_id}/messages", params=params, headers=user.headers)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")

    return read
