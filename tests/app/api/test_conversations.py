from __future__ import annotations

import uuid


def test_create_get_and_list(api, user, make_agent):
    agent = make_agent(user)
    r = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": "Plans"}, headers=user.headers)
    assert r.status_code == 201
    conv = r.json()
    assert conv["agent_id"] == agent["id"] and conv["title"] == "Plans"
    assert api.get(f"/v1/conversations/{conv['id']}", headers=user.headers).json() == conv
    second = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": "More"}, headers=user.headers)
    listed = api.get("/v1/conversations", headers=user.headers).json()["items"]
    assert [c["id"] for c in listed] == [second.json()["id"], conv["id"]]


def test_unknown_agent_is_404(api, user):
    r = api.post("/v1/conversations", json={"agent_id": str(uuid.uuid4()), "title": "x"}, headers=user.headers)
    assert r.status_code == 404


def test_unknown_conversation_is_404(api, user):
    assert api.get(f"/v1/conversations/{uuid.uuid4()}", headers=user.headers).status_code == 404


def test_posting_a_message_updates_the_cached_conversation(api, user, make_conversation, post_message):
    conv = make_conversation(user)
    before = api.get(f"/v1/conversations/{conv['id']}", headers=user.headers).json()
    post_message(user, conv["id"], "hi")
    after = api.get(f"/v1/conversations/{conv['id']}", headers=user.headers).json()
    assert after["updated_at"] > before["updated_at"]
