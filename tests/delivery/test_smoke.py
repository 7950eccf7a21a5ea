"""`.github/scripts/smoke.py` against a stand-in platform served on localhost."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

SMOKE = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "smoke.py"


class _Platform(BaseHTTPRequestHandler):
    users: dict[str, str] = {}
    broken_login = False
    api_key: str | None = None  # set: behaves as API Gateway, which refuses a call without the key (401)

    def log_message(self, *_: object) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        ok = self.path in ("/health", "/auth/health", "/ai/health")
        self._reply(200 if ok else 404, {"status": "ok"} if ok else {"detail": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.api_key is not None and self.headers.get("x-api-key") != self.api_key:
            self._reply(401, {"message": "UNAUTHENTICATED: Method doesn't allow unregistered callers"})
        elif self.path == "/auth/register":
            self.users[body["email"]] = body["password"]
            self._reply(201, {"id": "0", "email": body["email"], "display_name": body["display_name"]})
        elif self.path == "/auth/login" and not self.broken_login and self.users.get(body["email"]) == body["password"]:
            self._reply(200, {"access_token": "t", "refresh_token": "r", "token_type": "bearer", "expires_in": 900})
        else:
            self._reply(401, {"detail": "invalid credentials"})


@pytest.fixture
def platform() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    # shutdown() returns at serve_forever's next poll: every 0.5 s by default, a wait on each teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    _Platform.broken_login = False
    _Platform.api_key = None


def smoke_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python .github/scripts/smoke.py ARGS``, as the deploy workflow runs it."""
    return subprocess.run(
        [sys.executable, str(SMOKE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


@functools.cache
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke_script", SMOKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The script's ``main(ARGS)`` in this process, ``env`` layered on the environment, its output captured: a
    process of its own paid ~0.15 CPU s of interpreter and imports for each run (``smoke_process`` is the one
    that runs it as the workflow does)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        code = _script().main(list(args))
    return subprocess.CompletedProcess([str(SMOKE), *args], code, out.getvalue(), err.getvalue())


def test_behind_api_gateway_it_sends_the_api_key_it_is_given(platform: str) -> None:
    """Dev's API Gateway refuses register and login without an API key; SMOKE_API_KEY carries one."""
    _Platform.api_key = "AIza-test"
    assert smoke(platform, "--wait", "5").returncode == 1
    result = smoke(platform, "--wait", "5", env={"SMOKE_API_KEY": "AIza-test"})
    assert result.returncode == 0, result.stderr


def test_passes_against_a_healthy_platform(platform: str) -> None:
    result = smoke_process(platform, "--service", f"auth={platform}", "--wait", "5")
    assert result.returncode == 0, result.stderr
    assert "ok   POST /auth/login" in result.stdout


def test_fails_when_login_is_broken(platform: str) -> None:
    _Platform.broken_login = True
    result = smoke(platform, "--wait", "5")
    assert result.returncode == 1
    assert "FAIL POST /auth/login: 401" in result.stderr


def test_fails_when_a_service_never_becomes_healthy(platform: str) -> None:
    result = smoke(platform, "--service", f"ai={platform}/nowhere", "--wait", "0")
    assert result.returncode == 1
    assert "/nowhere/ai/health: not healthy" in result.stderr
