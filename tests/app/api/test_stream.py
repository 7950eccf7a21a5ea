"""WS /v1/conversations/{id}/stream, on one instance and across instances through Redis pub/sub."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from app.auth.keys import signing_key_from_pem


def _ws_url(base: str, conversation_id: str) -> str:
    return base.replace("http://", "ws://") + f"/v1/conversations/{conversation_id}/stream"


def _next_message(ws, timeout: float = 5.0) -> dict:
    event = json.loads(ws.recv(timeout=timeout))
    assert event["type"] == "message.created"
    return event["message"]


def test_stream_pushes_new_messages(api_server, user, make_conversation, post_message):
    conv = make_conversation(user)
    with connect(_ws_url(api_server.url, conv["id"]), additional_headers=user.headers, open_timeout=5) as ws:
        sent = post_message(user, conv["id"], "live!")
        assert _next_message(ws) == sent


def test_stream_accepts_the_browser_subprotocol_form(api_server, user, make_conversation, post_message):
    conv = make_conversation(user)
    with connect(_ws_url(api_server.url, conv["id"]), subprotocols=["bearer", user.access_token], open_timeout=5) as ws:
        assert ws.subprotocol == "bearer"
        sent = post_message(user, conv["id"], "via query token")
        assert _next_message(ws)["id"] == sent["id"]


def test_stream_fans_out_across_instances(new_api_instance, user, make_conversation, post_message, wait_until):
    other = new_api_instance()
    conv = make_conversation(user)
    with connect(_ws_url(other.url, conv["id"]), additional_headers=user.headers, open_timeout=5) as ws:
        # Posted through the first instance, pushed by the second: only Redis connects them.
        received: list[dict] = []

        def delivered() -> bool:
            sent = post_message(user, conv["id"], "cross-instance")
            try:
                received.append(_next_message(ws, timeout=0.5))
            except TimeoutError:
                return False
            return received[-1]["id"] == sent["id"]

        assert wait_until(delivered, timeout=10, interval=0)


def test_stream_rejects_anonymous_and_other_users(api_server, make_user, make_conversation):
    owner, stranger = make_user(), make_user()
    conv = make_conversation(owner)
    with pytest.raises(InvalidStatus):
        connect(_ws_url(api_server.url, conv["id"]), open_timeout=5)
    with pytest.raises(InvalidStatus):
        connect(_ws_url(api_server.url, conv["id"]), additional_headers=stranger.headers, open_timeout=5)
    with pytest.raises(InvalidStatus):
        connect(_ws_url(api_server.url, conv["id"]), subprotocols=["bearer", "forged.token.value"], open_timeout=5)


def test_stream_closes_cleanly_before_the_platforms_request_timeout(
    new_api_instance, user, make_conversation, post_message
):
    from websockets.exceptions import ConnectionClosedOK

    from app.api.routes.stream import GOING_AWAY, stream_budget

    api = new_api_instance(REQUEST_TIMEOUT_SECONDS=2)
    conv = make_conversation(user)
    with connect(_ws_url(api.url, conv["id"]), additional_headers=user.headers, open_timeout=5) as ws:
        sent = post_message(user, conv["id"], "before the limit")
        assert _next_message(ws)["id"] == sent["id"]
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=30)
    assert ws.close_code == GOING_AWAY  # a close frame the client reconnects on, not a cut connection
    assert stream_budget(3600) == 3590 and stream_budget(None) is None


# -- closing with the token, and resuming without gaps ----------------------------------------------------------


def _claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _closed_with(ws, timeout: float = 15.0) -> int:
    """Read until the server closes the stream; its close code."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code


def test_stream_closes_when_its_token_expires(api_server, key_dir, user, make_conversation):
    conv = make_conversation(user)
    key = signing_key_from_pem((key_dir / "signing.pem").read_bytes())
    now = int(time.time())
    # A real session, with a token about to expire: the shortest ACCESS_TOKEN_TTL_SECONDS is 30 s.
    claims = {**_claims_of(user.access_token), "iat": now, "nbf": now, "exp": now + 2}
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    with connect(_ws_url(api_server.url, conv["id"]), additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert _closed_with(ws) == 1008


def test_stream_closes_when_its_session_is_revoked(api_server, auth, user, make_conversation):
    conv = make_conversation(user)
    with connect(_ws_url(api_server.url, conv["id"]), additional_headers=user.headers, open_timeout=5) as ws:
        assert auth.post("/auth/logout", json={"refresh_token": user.refresh_token}).status_code == 204
        assert _closed_with(ws) == 1008


def _events(ws, n: int, timeout: float = 5.0) -> list[dict]:
    out = []
    for _ in range(n):
        event = json.loads(ws.recv(timeout=timeout))
        assert event["type"] == "message.created"
        out.append(event)
    return out


def _no_more(ws) -> bool:
    try:
        ws.recv(timeout=0.5)
    except TimeoutError:
        return True
    return False


def test_a_resumed_stream_gets_every_message_since_its_cursor_in_order_once(
    api_server, user, make_conversation, post_message
):
    conv = make_conversation(user)
    url = _ws_url(api_server.url, conv["id"])
    with connect(url, additional_headers=user.headers, open_timeout=5) as ws:
        first = post_message(user, conv["id"], "seen")
        [event] = _events(ws, 1)
        assert event["message"]["id"] == first["id"]
    missed = [post_message(user, conv["id"], f"missed-{i}")["id"] for i in range(3)]
    with connect(f"{url}?cursor={event['cursor']}", additional_headers=user.headers, open_timeout=5) as ws:
        replayed = _events(ws, 3)
        live = post_message(user, conv["id"], "live")
        [pushed] = _events(ws, 1)
        assert [e["message"]["id"] for e in replayed] + [pushed["message"]["id"]] == [*missed, live["id"]]
        assert _no_more(ws)
    with pytest.raises(InvalidStatus):
        connect(f"{url}?cursor=not-a-cursor", additional_headers=user.headers, open_timeout=5)


def test_no_event_is_lost_across_a_redis_outage(new_api_instance, redis_server, user, make_conversation, post_message):
    other = new_api_instance()
    conv = make_conversation(user)
    sent: list[str] = []
    with connect(_ws_url(other.url, conv["id"]), additional_headers=user.headers, open_timeout=5) as ws:
        sent.append(post_message(user, conv["id"], "before")["id"])
        received = [e["message"]["id"] for e in _events(ws, 1, timeout=10)]
        redis_server.stop(kill=True)
        try:
            # Posted through the first instance while the instances cannot reach each other.
            sent += [post_message(user, conv["id"], f"during-{i}")["id"] for i in range(4)]
        finally:
            redis_server.start()
        sent += [post_message(user, conv["id"], f"after-{i}")["id"] for i in range(4)]
        received += [e["message"]["id"] for e in _events(ws, len(sent) - 1, timeout=15)]
        assert received == sent
        assert _no_more(ws)
