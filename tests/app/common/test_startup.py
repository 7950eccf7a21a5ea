"""The first database/Redis connection is retried at instance start (Direct VPC egress can take a minute to connect).

The database "starts late": its address refuses connections until a forwarder to the real Postgres begins
listening there a moment later, as a private address does while Direct VPC egress is still connecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import PoolTimeout

from app.common.db import Database
from app.common.migrations import apply_migrations
from app.common.redis import SafeRedis
from grid.local import free_port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class LateListener:
    """A TCP forwarder to ``target`` that starts listening on ``port`` only after ``delay`` seconds."""

    def __init__(self, target: tuple[str, int] | str, delay: float) -> None:
        self.target, self.delay, self.port = target, delay, free_port()
        self.server: asyncio.Server | None = None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if isinstance(self.target, str):  # a Unix socket path
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def run(self) -> None:
        await asyncio.sleep(self.delay)
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _via(url: str, port: int) -> str:
    """``url`` with its address replaced by 127.0.0.1:``port`` (Postgres conninfo or redis:// URL)."""
    if url.startswith("redis"):
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]  # keep AUTH credentials
        return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"))
    return make_conninfo(url, host="127.0.0.1", port=str(port))


def _target(url: str) -> tuple[str, int] | str:
    if url.startswith("redis"):
        parts = urlsplit(url)
        return parts.hostname or "127.0.0.1", parts.port or 6379
    info = conninfo_to_dict(url)
    host, port = str(info.get("host", "127.0.0.1")), int(info.get("port", 5432))
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


def _late(url: str, delay: float = 1.5) -> tuple[LateListener, str]:
    listener = LateListener(_target(url), delay)
    return listener, _via(url, listener.port)


def test_the_database_pool_waits_for_a_late_database(postgres) -> None:
    async def go() -> None:
        listener, url = _late(postgres.url)
        starting = asyncio.create_task(listener.run())
        db = Database(url, min_size=0, max_size=1)
        try:
            await db.open(connect_budget=60)
            await db.ping()
        finally:
            await db.close()
            await starting
            await listener.close()

    asyncio.run(go())


def test_without_a_budget_a_late_database_fails_the_start(postgres) -> None:
    async def go() -> None:
        db = Database(_via(postgres.url, free_port()), min_size=0, max_size=1)
        db.pool.timeout = 0.5
        try:
            with pytest.raises((PoolTimeout, psycopg.OperationalError)):
                await db.open(connect_budget=0)
        finally:
            await db.close()

    asyncio.run(go())


def test_the_migrations_job_waits_for_a_late_database(postgres) -> None:
    async def go() -> list[int]:
        listener, url = _late(postgres.url)
        starting = asyncio.create_task(listener.run())
        try:
            return await apply_migrations(url, connect_budget=60)
        finally:
            await starting
            await listener.close()

    assert isinstance(asyncio.run(go()), list)
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0


def test_redis_late_is_waited_for_and_redis_never_up_only_degrades(redis_server) -> None:
    async def go() -> tuple[bool, bool]:
        listener, url = _late(redis_server.url, delay=1.0)
        starting = asyncio.create_task(listener.run())
        late, never = SafeRedis(url), SafeRedis(_via(redis_server.url, free_port()))
        try:
            return await late.wait_until_reachable(60), await never.wait_until_reachable(0.5)
        finally:
            await starting
            await listener.close()
            await late.close()
            await never.close()

    assert asyncio.run(go()) == (True, False)


def test_nothing_listens_on_a_fresh_free_port() -> None:
    """The premise of the tests above: a free port refuses connections until the forwarder binds it."""
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", free_port()))
