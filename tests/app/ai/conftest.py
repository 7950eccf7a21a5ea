"""The ai service on a real socket with the real embedding model (loaded once for the session), and a real local
HTTP server speaking the OpenAI chat-completions API for provider tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.app.conftest import ServerThread, base_env


class FakeProvider:
    """An OpenAI-compatible /v1/chat/completions endpoint whose next answers are scripted by the test.

    Script steps: ("ok", content, prompt_tokens, completion_tokens), ("status", code, retry_after | None),
    ("sleep", seconds) (answers after the client's timeout), ("garbage",), ("raw", body bytes) (a 200 with that
    body). With an empty script it answers ok.
    """

    def __init__(self) -> None:
        self.script: list[tuple] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                    step = fake.script.pop(0) if fake.script else ("ok", "fine", 10, 5)
                if self.path != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                kind = step[0]
                if kind == "sleep":
                    time.sleep(step[1])
                    step = ("ok", "late", 1, 1)
                    kind = "ok"
                if kind == "ok":
                    _, content, prompt, completion = step
                    reply = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                  "total_tokens": prompt + completion},
                    }  # fmt: skip
                    self._send(200, json.dumps(reply).encode())
                elif kind == "raw":
                    self._send(200, step[1])
                elif kind == "status":
                    headers = {"Retry-After": str(step[2])} if step[2] is not None else None
                    self._send(step[1], b'{"error": {"message": "scripted failure"}}', headers)
                else:
                    self._send(200, b'{"choices": []}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reset(self, *steps: tuple) -> None:
        with self.lock:
            self.script = list(steps)
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def embedder():
    from app.ai.embeddings import get_embedder

    # One intra-op thread: the test machine's cores are shared (see EMBED_THREADS).
    return get_embedder(1)


def start_ai(postgres, redis_server, auth_url: str, embedder: Any = None, **extra: Any) -> ServerThread:
    from app.ai.main import create_app
    from app.ai.settings import AiSettings

    settings = AiSettings(
        **{**base_env(postgres, redis_server), "JWKS_URL": f"{auth_url}/auth/.well-known/jwks.json", **extra}
    )
    return ServerThread(create_app(settings, configure_logs=False, embedder=embedder)).start(timeout=120)


@pytest.fixture(scope="session")
def ai_server(postgres, redis_server, auth_server, api_server, embedder, fake_provider) -> Iterator[ServerThread]:
    server = start_ai(
        postgres,
        redis_server,
        auth_server.url,
        COMPLETION_BASE_URL=fake_provider.url,
        COMPLETION_API_KEY="sk-test-key",
        COMPLETION_MODEL="test-model",
        COMPLETION_TIMEOUT_SECONDS=1.0,
        COMPLETION_TOKENS_PER_DAY=1000,
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ai(ai_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ai_server.url, timeout=30) as client:
        yield client
