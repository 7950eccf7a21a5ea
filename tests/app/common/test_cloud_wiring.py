"""The services as the plan wires them once deployed: auth's keys behind Cloud Run IAM, and API Gateway's headers.

A stand-in metadata server issues ID tokens (signed by a test issuer standing for Google) and a stand-in for
Cloud Run IAM refuses the JWKS fetch without one, so google-auth's real code path runs end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.app.conftest import ServerThread, start_api
from tests.conftest import REPO_ROOT

GOOGLE_KEY = "stand-in-for-google-signing-key-0123456789abcdef"
ACCOUNT = "/computeMetadata/v1/instance/service-accounts/default/"
IDENTITY = ACCOUNT + "identity"
EMAIL = "grid-dev-api@acme-grid-dev.iam.gserviceaccount.com"


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


class _Metadata(BaseHTTPRequestHandler):
    """The metadata server's identity endpoint (https://cloud.google.com/run/docs/container-contract#metadata-server)."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Metadata-Flavor") != "Google":
            self.send_response(403)
            self.end_headers()
            return
        body = b""
        if url.path == ACCOUNT:  # google-auth reads the account's email before asking for a token
            body = json.dumps({"email": EMAIL, "aliases": ["default"], "scopes": []}).encode()
        elif url.path == IDENTITY:
            [audience] = parse_qs(url.query)["audience"]
            now = int(time.time())
            claims = {
                "iss": "https://accounts.google.com",
                "aud": audience,
                "sub": "api",
                "iat": now,
                "exp": now + 3600,
            }
            body = jwt.encode(claims, GOOGLE_KEY, algorithm="HS256").encode()
        elif url.path not in ("", "/"):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", "application/json" if url.path == ACCOUNT else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _private_service(upstream: str, audience: str) -> type[BaseHTTPRequestHandler]:
    """Cloud Run IAM in front of ``upstream``: 403 without an ID token for ``audience``."""

    class Gate(BaseHTTPRequestHandler):
        calls: list[bool] = []

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            try:
                jwt.decode(token, GOOGLE_KEY, algorithms=["HS256"], audience=audience)
                admitted = scheme == "Bearer"
            except jwt.PyJWTError:
                admitted = False
            Gate.calls.append(admitted)
            if not admitted:
                self.send_response(403)
                self.end_headers()
                return
            body = httpx.get(upstream + self.path).content
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Gate


@pytest.fixture(scope="module")
def metadata_host() -> Iterator[str]:
    server, host = _serve(_Metadata)
    yield host
    server.shutdown()


def test_id_token_comes_from_the_metadata_server_named_by_gce_metadata_host(metadata_host: str) -> None:
    """The interface a local cloud relies on: GCE_METADATA_HOST/GCE_METADATA_IP in the process's environment."""
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update(GCE_METADATA_HOST=metadata_host, GCE_METADATA_IP=metadata_host)
    code = "import asyncio; from app.common.idtoken import GoogleIdToken; print(asyncio.run(GoogleIdToken('https://auth.example').get()))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), GOOGLE_KEY, algorithms=["HS256"], audience="https://auth.example")
    assert claims["iss"] == "https://accounts.google.com"


@pytest.fixture(scope="module")
def private_jwks(auth_server: ServerThread) -> Iterator[tuple[str, str, type]]:
    audience = "https://grid-dev-auth-abc123-uc.a.run.app"
    gate = _private_service(auth_server.url, audience)
    server, host = _serve(gate)
    yield f"http://{host}/auth/.well-known/jwks.json", audience, gate
    server.shutdown()


def test_api_fetches_auths_keys_from_a_private_url_with_an_id_token(
    postgres, redis_server, private_jwks, metadata_host, make_user, monkeypatch
) -> None:
    from google.auth.compute_engine import _metadata

    # google-auth reads GCE_METADATA_HOST when imported (this process imported it already): set what it read.
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", metadata_host)
    monkeypatch.setenv("GCE_METADATA_IP", metadata_host)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    url, audience, gate = private_jwks
    api = start_api(postgres, redis_server, "unused", JWKS_URL=url, JWKS_AUDIENCE=audience)
    try:
        user = make_user()
        r = httpx.get(f"{api.url}/v1/agents", headers=user.headers, timeout=15)
        assert r.status_code == 200, r.text
        assert gate.calls and all(gate.calls)
    finally:
        api.stop()


@pytest.fixture(scope="module")
def gateway_api(postgres, redis_server, auth_server: ServerThread) -> Iterator[ServerThread]:
    """The api as the plan deploys it behind API Gateway (the gateway being the only way in)."""
    api = start_api(postgres, redis_server, auth_server.url, USER_AUTH_HEADER="X-Forwarded-Authorization")
    yield api
    api.stop()


def _google_id_token() -> str:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": "https://api", "sub": "gw", "iat": now, "exp": now + 60}
    return jwt.encode(claims, GOOGLE_KEY, algorithm="HS256")


def test_behind_api_gateway_the_user_token_is_read_from_x_forwarded_authorization(gateway_api, user) -> None:
    # What API Gateway sends its x-google-backend: its own ID token, the caller's header moved aside.
    headers = {
        "Authorization": f"Bearer {_google_id_token()}",
        "X-Forwarded-Authorization": user.headers["Authorization"],
    }
    assert httpx.get(f"{gateway_api.url}/v1/agents", headers=headers).status_code == 200
    # Authorization is the gateway's, never a user credential, there.
    assert httpx.get(f"{gateway_api.url}/v1/agents", headers=user.headers).status_code == 401


def test_x_forwarded_authorization_is_ignored_where_the_gateway_is_not_the_only_way_in(api, user) -> None:
    forged = {"X-Forwarded-Authorization": user.headers["Authorization"]}
    assert api.get("/v1/agents", headers=forged).status_code == 401
    assert api.get("/v1/agents", headers={"Authorization": "Bearer nonsense", **forged}).status_code == 401
    assert api.get("/v1/agents", headers=user.headers).status_code == 200


def test_the_private_jwks_url_refuses_a_plain_get(private_jwks) -> None:
    """The stand-in for Cloud Run IAM refuses what the services sent before: a GET without an ID token."""
    url, _, _ = private_jwks
    assert httpx.get(url).status_code == 403
