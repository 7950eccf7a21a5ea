"""Real PostgreSQL and Redis for the app tests, and the services running on real sockets.

Session-scoped: one embedded Postgres and one redis-server (random port, tmp dirs) for the whole run; the auth
and api services run under uvicorn in background threads, as they would in their containers.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from grid.local import LocalPostgres, LocalRedis, free_port

# Cheap hashing keeps the suite fast; production defaults are tested in tests/app/auth/test_passwords.py.
TEST_OVERRIDES: dict[str, Any] = {
    "ENVIRONMENT": "test",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 8192,
    "ARGON2_PARALLELISM": 1,
    "REGISTER_MAX_PER_IP": 100_000,
    # Tests pose as distinct clients with X-Forwarded-For, as behind Google's load balancer.
    "TRUSTED_PROXY_HOPS": 1,
    "MESSAGE_WRITES_PER_MINUTE": 100_000,
    # Tests poll search and embed freely; the per-user rates are tested on their own (tests/app/ai).
    "EMBED_REQUESTS_PER_MINUTE": 100_000,
    "SEARCH_REQUESTS_PER_MINUTE": 100_000,
    "OUTBOX_RELAY_INTERVAL_SECONDS": 0.5,
    "DB_POOL_MAX_SIZE": 8,
}


class ServerThread:
    """A uvicorn server for `app` in a thread of its own, with its own event loop."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", ws="websockets-sansio"
            )
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server failed to start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A private temporary root for the session's servers.

    Not pytest's tmp_path_factory: pytest prunes old numbered dirs under /tmp/pytest-of-<user> whenever any
    pytest starts, which would pull the data directory from under a running Postgres if two runs overlap.
    """
    root = Path(tempfile.mkdtemp(prefix="grid-app-tests-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(scratch: Path) -> Iterator[LocalPostgres]:
    pg = LocalPostgres(scratch / "pg" / "data")
    pg.start()
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def redis_server(scratch: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(scratch / "redis", persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def key_dir(scratch: Path) -> Path:
    (scratch / "keys").mkdir()
    return scratch / "keys"


def base_env(postgres: LocalPostgres, redis_server: LocalRedis) -> dict[str, Any]:
    return {"DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url, **TEST_OVERRIDES}


def start_auth(postgres: LocalPostgres, redis_server: LocalRedis, key_dir: Path, **extra: Any) -> ServerThread:
    from app.auth.main import create_app
    from app.auth.settings import AuthSettings

    settings = AuthSettings(**{**base_env(postgres, redis_server), "JWT_KEY_FILE": key_dir / "signing.pem", **extra})
    return ServerThread(create_app(settings, configure_logs=False)).start()


def start_api(postgres: LocalPostgres, redis_server: LocalRedis, auth_url: str, **extra: Any) -> ServerThread:
    from app.api.main import create_app
    from app.api.settings import ApiSettings

    settings = ApiSettings(
        **{**base_env(postgres, redis_server), "JWKS_URL": f"{auth_url}/auth/.well-known/jwks.json", **extra}
    )
    return ServerThread(create_app(settings, configure_logs=False)).start()


@pytest.fixture(scope="session")
def auth_server(postgres: LocalPostgres, redis_server: LocalRedis, key_dir: Path) -> Iterator[ServerThread]:
    server = start_auth(postgres, redis_server, key_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_server(postgres: LocalPostgres, redis_server: LocalRedis, auth_server: ServerThread) -> Iterator[ServerThread]:
    server = start_api(postgres, redis_server, auth_server.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth(auth_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.url, timeout=15) as client:
        yield client


@pytest.fixture(scope="session")
def api(api_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_server.url, timeout=15) as client:
        yield client


@pytest.fixture
def monitoring() -> Iterator[tuple[Any, str]]:
    """A fake Cloud Monitoring REST API and metadata server (tests/app/monitoring.py) on a random port: (its record,
    its base URL)."""
    from tests.app.monitoring import fake_monitoring

    with fake_monitoring() as pair:
        yield pair


@pytest.fixture
def on_cloud_run(monkeypatch: pytest.MonkeyPatch, monitoring: tuple[Any, str]) -> Callable[[str], dict[str, str]]:
    """``on_cloud_run(service)``: this process poses as a Cloud Run instance of ``service``, the fake Monitoring
    API's metadata server answering for it; returns the ``generic_task`` resource labels its points must carry."""
    from tests.app.monitoring import pose_as_cloud_run

    return lambda service: pose_as_cloud_run(monkeypatch, *monitoring, service)


PASSWORD = "correct-horse-battery-2024"


@dataclass
class User:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def random_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@pytest.fixture(scope="session")
def make_user(auth: httpx.Client) -> Callable[..., User]:
    def make(display_name: str = "Test User") -> User:
        email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        ip = {"X-Forwarded-For": random_ip()}
        r = auth.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": display_name},
            headers=ip,
        )
        assert r.status_code == 201, r.text
        r2 = auth.post("/auth/login", json={"email": email, "password": PASSWORD}, headers=ip)
        assert r2.status_code == 200, r2.text
        tokens = r2.json()
        return User(r.json()["id"], email, PASSWORD, tokens["access_token"], tokens["refresh_token"])

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., bool]:
    """Poll a condition with a bounded timeout (tests never wait forever)."""
    return _wait_until


@pytest.fixture(scope="session")
def new_api_instance(
    postgres: LocalPostgres, redis_server: LocalRedis, auth_server: ServerThread
) -> Iterator[Callable[..., ServerThread]]:
    """Start extra api instances (stopped at session end), e.g. to test fan-out across instances."""
    started: list[ServerThread] = []

    def start(**extra: Any) -> ServerThread:
        server = start_api(postgres, redis_server, auth_server.url, **extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server_thread() -> Iterator[Callable[[Any], ServerThread]]:
    """Serve any ASGI app on a free port for the rest of the session (e.g. a fake upstream)."""
    started: list[ServerThread] = []

    def start(app: Any) -> ServerThread:
        started.append(ServerThread(app).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def forwarded_for() -> Callable[[], dict[str, str]]:
    """Headers making a request come from a fresh client IP (TRUSTED_PROXY_HOPS=1 in tests)."""
    return lambda: {"X-Forwarded-For": random_ip()}


# -- api resources -----------------------------------------------------------------------------------------


@pytest.fixture
def make_agent(api) -> Callable[..., dict]:
    def make(user, **fields) -> dict:
        r = api.post("/v1/agents", json={"name": "helper", **fields}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def make_conversation(api, make_agent) -> Callable[..., dict]:
    def make(user, title: str = "chat") -> dict:
        agent = make_agent(user)
        r = api.post("/v1/conversations", json={"agent_id": agent["id"], "title": title}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def post_message(api) -> Callable[..., dict]:
    def post(user, conversation_id: str, content: str, role: str = "user", key: str | None = None) -> dict:
        headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
        r = api.post(
            f"/v1/conversations/{conversation_id}/messages", json={"role": role, "content": content}, headers=headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    return post


@pytest.fixture
def read_all(api) -> Callable[..., list[dict]]:
    """Every message of a conversation, following next_cursor page by page."""

    def read(user, conversation_id: str, limit: int = 100) -> list[dict]:
        items, cursor = [], None
        for _ in range(10_000):
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            r = api.get(f"/v1/conversations/{conversation_id}/messages", params=params, headers=user.headers)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")

    return read


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # No app test may hang CI: each gets a hard limit (pytest-timeout), far above its normal run time.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(120))
