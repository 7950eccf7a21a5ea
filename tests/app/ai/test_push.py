"""Pub/Sub push to the ai indexer (EVENTS_BACKEND=push): the delivery is a request, verified by its OIDC token.

Google's token endpoint is played by a local JWKS server and an RSA key of the test's own; the ai service runs on
a real socket against the session's Postgres.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.ai.push import PushVerifier
from tests.app.ai.conftest import start_ai

AUDIENCE = "grid-test-ai-indexer"
INVOKER = "grid-test-invoker@acme-grid-test.iam.gserviceaccount.com"


class Jwks:
    """Serves one RSA public key as a JWKS and signs tokens with its private key, as Google does for push."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": INVOKER,
            "email_verified": True,
            "iat": now,
            "exp": now + 600,
            "sub": "1234567890",
        } | claims
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def push_ai(postgres, redis_server, auth_server, api_server, embedder, jwks) -> Iterator[Any]:
    server = start_ai(
        postgres,
        redis_server,
        auth_server.url,
        EVENTS_BACKEND="push",
        PUSH_AUDIENCE=AUDIENCE,
        PUSH_SERVICE_ACCOUNT=INVOKER,
    )
    # Google's JWKS is not reachable from the tests: verify against the local one.
    server.server.config.app.state.push_verifier = PushVerifier(AUDIENCE, INVOKER, jwks_url=jwks.url)
    yield server
    server.stop()


def _envelope(message: dict, user_id: str) -> dict:
    data = base64.b64encode(json.dumps({"message": message, "user_id": user_id}).encode()).decode()
    return {
        "message": {"data": data, "attributes": {"type": "message.created"}, "messageId": "1"},
        "subscription": "projects/acme-grid-test/subscriptions/grid-test-events-ai-indexer",
    }


def _indexed(postgres, message_id: str) -> bool:
    with psycopg.connect(postgres.admin_url) as conn:
        return (
            conn.execute("SELECT 1 FROM message_embeddings WHERE message_id = %s", (message_id,)).fetchone() is not None
        )


def test_a_push_indexes_the_message_within_the_request(
    push_ai, jwks, postgres, user, make_conversation, post_message
) -> None:
    sent = post_message(user, make_conversation(user)["id"], "pushed to the indexer")
    r = httpx.post(
        f"{push_ai.url}/ai/events/pubsub",
        json=_envelope(sent, user.id),
        headers={"Authorization": f"Bearer {jwks.token()}"},
    )
    assert r.status_code == 204
    assert _indexed(postgres, sent["id"])  # done before the response: nothing runs between requests


@pytest.mark.parametrize(
    "claims", [{"aud": "someone-else"}, {"email": "attacker@evil.example"}, {"iss": "https://evil.example"}, {"exp": 1}]
)
def test_a_push_without_the_stacks_token_is_refused(push_ai, jwks, claims: dict) -> None:
    r = httpx.post(
        f"{push_ai.url}/ai/events/pubsub",
        json={"message": {}},
        headers={"Authorization": f"Bearer {jwks.token(**claims)}"},
    )
    assert r.status_code == 401
    assert httpx.post(f"{push_ai.url}/ai/events/pubsub", json={"message": {}}).status_code == 401


def test_a_message_that_never_parses_is_acknowledged(push_ai, jwks) -> None:
    r = httpx.post(
        f"{push_ai.url}/ai/events/pubsub",
        json={"message": {"data": "!!not base64"}},
        headers={"Authorization": f"Bearer {jwks.token()}"},
    )
    assert r.status_code == 204
