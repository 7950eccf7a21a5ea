"""WS /v1/conversations/{id}/stream, on one instance and across instances through Redis pub/sub."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


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
