from __future__ import annotations

import uuid


def test_agent_crud(api, user):
    r = api.post(
        "/v1/agents",
        json={"name": "Researcher", "description": "digs", "model": "gemini", "system_prompt": "be brief"},
        headers=user.headers,
    )
    assert r.status_code == 201
    agent = r.json()
    assert agent["name"] == "Researcher" and agent["model"] == "gemini" and agent["system_prompt"] == "be brief"

    assert api.get(f"/v1/agents/{agent['id']}", headers=user.headers).json() == agent
    listed = api.get("/v1/agents", headers=user.headers).json()["items"]
    assert [a["id"] for a in listed] == [agent["id"]]

    r = api.patch(f"/v1/agents/{agent['id']}", json={"name": "Renamed"}, headers=user.headers)
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed" and r.json()["description"] == "digs"
    # Reads after a write see the write: the cached entries were invalidated.
    assert api.get(f"/v1/agents/{agent['id']}", headers=user.headers).json()["name"] == "Renamed"
    assert api.get("/v1/agents", headers=user.headers).json()["items"][0]["name"] == "Renamed"

    assert api.delete(f"/v1/agents/{agent['id']}", headers=user.headers).status_code == 204
    assert api.get(f"/v1/agents/{agent['id']}", headers=user.headers).status_code == 404
    assert api.get("/v1/agents", headers=user.headers).json()["items"] == []
    assert api.delete(f"/v1/agents/{agent['id']}", headers=user.headers).status_code == 404


def test_list_is_newest_first(api, user, make_agent):
    ids = [make_agent(user, name=f"a{i}")["id"] for i in range(3)]
    assert [a["id"] for a in api.get("/v1/agents", headers=user.headers).json()["items"]] == ids[::-1]


def test_empty_patch_returns_the_agent_unchanged(api, user, make_agent):
    agent = make_agent(user)
    r = api.patch(f"/v1/agents/{agent['id']}", json={}, headers=user.headers)
    assert r.status_code == 200 and r.json() == agent


def test_validation(api, user):
    assert api.post("/v1/agents", json={"name": ""}, headers=user.headers).status_code == 422
    assert api.post("/v1/agents", json={"name": "x", "extra": 1}, headers=user.headers).status_code == 422
    assert api.get("/v1/agents/not-a-uuid", headers=user.headers).status_code == 422
    assert api.get(f"/v1/agents/{uuid.uuid4()}", headers=user.headers).status_code == 404


def test_requires_authentication(api):
    assert api.get("/v1/agents").status_code == 401
    assert api.post("/v1/agents", json={"name": "x"}).status_code == 401


def test_deleting_an_agent_removes_its_conversations(api, user, make_agent, post_message):
    agent = make_agent(user)
    conv = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": "t"}, headers=user.headers).json()
    post_message(user, conv["id"], "hello")
    # Warm the caches, then delete: nothing stale may be served afterwards.
    assert api.get(f"/v1/conversations/{conv['id']}/messages", headers=user.headers).status_code == 200
    assert api.delete(f"/v1/agents/{agent['id']}", headers=user.headers).status_code == 204
    assert api.get(f"/v1/conversations/{conv['id']}", headers=user.headers).status_code == 404
    assert api.get(f"/v1/conversations/{conv['id']}/messages", headers=user.headers).status_code == 404
