"""Another user's resources do not exist for you: 404 on every path, reads and writes alike."""

from __future__ import annotations


def test_other_users_resources_are_404(api, make_user, make_conversation, post_message):
    alice, mallory = make_user(), make_user()
    conv = make_conversation(alice)
    post_message(alice, conv["id"], "private")
    agent_id = conv["agent_id"]
    h = mallory.headers

    assert api.get(f"/v1/agents/{agent_id}", headers=h).status_code == 404
    assert api.patch(f"/v1/agents/{agent_id}", json={"name": "pwned"}, headers=h).status_code == 404
    assert api.delete(f"/v1/agents/{agent_id}", headers=h).status_code == 404
    assert api.get(f"/v1/conversations/{conv['id']}", headers=h).status_code == 404
    assert api.get(f"/v1/conversations/{conv['id']}/messages", headers=h).status_code == 404
    r = api.post(f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": "x"}, headers=h)
    assert r.status_code == 404
    r = api.post("/v1/conversations", json={"agent_id": agent_id, "title": "steal"}, headers=h)
    assert r.status_code == 404
    assert api.get("/v1/agents", headers=h).json()["items"] == []
    assert api.get("/v1/conversations", headers=h).json()["items"] == []

    # Alice's data is untouched.
    assert api.get(f"/v1/agents/{agent_id}", headers=alice.headers).json()["name"] == "helper"
    page = api.get(f"/v1/conversations/{conv['id']}/messages", headers=alice.headers).json()
    assert [m["content"] for m in page["items"]] == ["private"]


def test_cached_reads_are_not_shared_between_users(api, make_user, make_conversation):
    alice, mallory = make_user(), make_user()
    conv = make_conversation(alice)
    # Alice warms the cache for this conversation; Mallory asking for the same ids still gets nothing.
    for _ in range(2):
        assert api.get(f"/v1/conversations/{conv['id']}/messages", headers=alice.headers).status_code == 200
    assert api.get(f"/v1/conversations/{conv['id']}/messages", headers=mallory.headers).status_code == 404
    assert api.get(f"/v1/conversations/{conv['id']}", headers=mallory.headers).status_code == 404
