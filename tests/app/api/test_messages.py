from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx


def test_post_and_read_messages(api, user, make_conversation):
    conv = make_conversation(user)
    url = f"/v1/conversations/{conv['id']}/messages"
    r = api.post(url, json={"role": "user", "content": "hello"}, headers=user.headers)
    assert r.status_code == 201
    msg = r.json()
    assert msg["conversation_id"] == conv["id"] and msg["role"] == "user" and msg["content"] == "hello"
    assert "Idempotent-Replayed" not in r.headers
    page = api.get(url, headers=user.headers).json()
    assert page == {"items": [msg], "next_cursor": None}


def test_pages_are_oldest_first_with_keyset_cursor(api, user, make_conversation, post_message, read_all):
    conv = make_conversation(user)
    sent = [post_message(user, conv["id"], f"m{i}")["id"] for i in range(7)]
    url = f"/v1/conversations/{conv['id']}/messages"
    first = api.get(url, params={"limit": 3}, headers=user.headers).json()
    assert [m["id"] for m in first["items"]] == sent[:3]
    assert first["next_cursor"]
    second = api.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=user.headers).json()
    assert [m["id"] for m in second["items"]] == sent[3:6]
    assert [m["id"] for m in read_all(user, conv["id"], limit=3)] == sent


def test_an_empty_page_is_not_a_missing_conversation(api, user, make_conversation, post_message):
    """One statement reads a page and tells an empty one (200) from a conversation that is not there (404)."""
    conv = make_conversation(user)
    url = f"/v1/conversations/{conv['id']}/messages"
    assert api.get(url, headers=user.headers).json() == {"items": [], "next_cursor": None}
    post_message(user, conv["id"], "only")
    first = api.get(url, params={"limit": 1}, headers=user.headers).json()
    assert [m["content"] for m in first["items"]] == ["only"] and first["next_cursor"] is None
    past_the_end = api.get(url, params={"cursor": "czk5OQ"}, headers=user.headers)  # "s999": after every message
    assert past_the_end.status_code == 200 and past_the_end.json()["items"] == []
    assert api.get(f"/v1/conversations/{uuid.uuid4()}/messages", headers=user.headers).status_code == 404


def test_last_page_sees_new_messages(api, user, make_conversation, post_message):
    conv = make_conversation(user)
    url = f"/v1/conversations/{conv['id']}/messages"
    post_message(user, conv["id"], "one")
    assert len(api.get(url, headers=user.headers).json()["items"]) == 1  # now cached
    post_message(user, conv["id"], "two")
    assert [m["content"] for m in api.get(url, headers=user.headers).json()["items"]] == ["one", "two"]


def test_bad_input(api, user, make_conversation):
    conv = make_conversation(user)
    url = f"/v1/conversations/{conv['id']}/messages"
    assert api.post(url, json={"role": "wizard", "content": "x"}, headers=user.headers).status_code == 422
    assert api.post(url, json={"role": "user", "content": ""}, headers=user.headers).status_code == 422
    assert api.get(url, params={"cursor": "!!!"}, headers=user.headers).status_code == 422
    assert api.get(url, params={"limit": 0}, headers=user.headers).status_code == 422
    assert api.get(url, params={"limit": 101}, headers=user.headers).status_code == 422
    bad_json = api.post(
        url, content=b'{"role": "user", "content": ', headers={**user.headers, "content-type": "application/json"}
    )
    assert bad_json.status_code == 422
    huge = api.post(url, json={"role": "user", "content": "x" * 1_100_000}, headers=user.headers)
    assert huge.status_code == 413
    assert huge.json()["detail"] == "request body too large"


def test_hostile_content_is_stored_and_returned_verbatim(api, user, make_conversation, post_message, read_all):
    conv = make_conversation(user)
    payloads = [
        "'; DROP TABLE messages; --",
        "<img src=x onerror=alert(1)>",
        '" OR 1=1 --',
        "$$; SELECT pg_sleep(10); $$",
        "emoji 🚀 and nul-ish \\u0000 text",
        "%s %(x)s {0} ${jndi:ldap://x}",
    ]
    for p in payloads:
        assert post_message(user, conv["id"], p)["content"] == p
    assert [m["content"] for m in read_all(user, conv["id"])] == payloads
    # The tables are still there.
    assert api.get("/v1/agents", headers=user.headers).status_code == 200


def test_idempotent_replay_returns_the_first_result(api, user, make_conversation, read_all):
    conv = make_conversation(user)
    url = f"/v1/conversations/{conv['id']}/messages"
    headers = {**user.headers, "Idempotency-Key": "retry-1"}
    first = api.post(url, json={"role": "user", "content": "pay"}, headers=headers)
    again = api.post(url, json={"role": "user", "content": "pay"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(read_all(user, conv["id"])) == 1
    other = api.post(url, json={"role": "user", "content": "different"}, headers=headers)
    assert other.status_code == 422


def test_idempotency_keys_are_per_user(api, make_user, make_conversation):
    a, b = make_user(), make_user()
    ca, cb = make_conversation(a), make_conversation(b)
    key = {"Idempotency-Key": "shared-key"}
    ra = api.post(
        f"/v1/conversations/{ca['id']}/messages", json={"role": "user", "content": "x"}, headers={**a.headers, **key}
    )
    rb = api.post(
        f"/v1/conversations/{cb['id']}/messages", json={"role": "user", "content": "x"}, headers={**b.headers, **key}
    )
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["id"] != rb.json()["id"]


def test_concurrent_requests_with_one_key_create_one_message(api_server, user, make_conversation, read_all):
    conv = make_conversation(user)
    url = f"{api_server.url}/v1/conversations/{conv['id']}/messages"
    headers = {**user.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}

    def send(_):
        return httpx.post(url, json={"role": "user", "content": "once"}, headers=headers, timeout=15)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert len(read_all(user, conv["id"])) == 1


def test_pagination_is_stable_under_concurrent_inserts(api_server, api, user, make_conversation, post_message):
    conv = make_conversation(user)
    initial = [post_message(user, conv["id"], f"seed-{i}")["id"] for i in range(30)]
    stop = threading.Event()
    written: list[str] = []

    def writer():
        with httpx.Client(base_url=api_server.url, headers=user.headers, timeout=15) as client:
            i = 0
            while not stop.is_set() and i < 200:
                r = client.post(
                    f"/v1/conversations/{conv['id']}/messages", json={"role": "assistant", "content": f"live-{i}"}
                )
                assert r.status_code == 201
                written.append(r.json()["id"])
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[str] = []
    try:
        cursor = None
        for _ in range(200):
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = api.get(f"/v1/conversations/{conv['id']}/messages", params=params, headers=user.headers).json()
            seen += [m["id"] for m in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        thread.join(30)
    # No duplicates, nothing skipped, in insertion order: what we saw is a prefix of everything written.
    everything = initial + written
    assert len(seen) == len(set(seen))
    assert seen == everything[: len(seen)]
    assert len(seen) >= len(initial)


def test_message_writes_are_rate_limited_per_user(new_api_instance, make_user, make_conversation):
    limited = new_api_instance(MESSAGE_WRITES_PER_MINUTE=3)
    user = make_user()
    conv = make_conversation(user)
    with httpx.Client(base_url=limited.url, headers=user.headers, timeout=15) as client:
        statuses = [
            client.post(f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": "x"}).status_code
            for _ in range(4)
        ]
        last = client.post(f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": "x"})
    assert statuses == [201, 201, 201, 429]
    assert int(last.headers["Retry-After"]) >= 1


def test_nul_characters_are_refused_not_500(api, user, make_conversation):
    conv = make_conversation(user)
    r = api.post(
        f"/v1/conversations/{conv['id']}/messages", json={"role": "user", "content": "a\x00b"}, headers=user.headers
    )
    assert r.status_code == 422
