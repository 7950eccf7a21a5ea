"""The async Postgres pool and the one way to run SQL: a transaction scoped to the calling user.

Tenant isolation lives in the database (row-level security, see migrations): every transaction made for a
request sets `app.user_id` with `set_config(..., true)`, which lasts until that transaction ends, so a pooled
connection never carries one user's identity into the next request.
"""

from __future__ import annotations

import contextlib
import logging
import select
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.common.pgconnect import connect_args
from app.common.startup import retry_connect

log = logging.getLogger("app.db")

Conn = AsyncConnection[DictRow]
Statement = tuple[str, Sequence[Any]]
"""SQL with its parameters."""
# The setting row-level security reads (migrations/0001_initial.sql), local to the transaction.
_SET_USER = "set_config('app.user_id', %s, true)"
# A connection back in use within this many seconds of its last checkout, with nothing waiting on its socket, is
# handed out without a round trip (`Database._check`).
RECHECK_IDLE_SECONDS = 5.0


class ConstraintViolation(Exception):
    """A write broke an integrity constraint: the request's fault (a client error), never a server error.

    Raised by `Database.transaction` for any IntegrityError, so no route has to know which of its statements can
    break which constraint. E.g. a token of a user deleted meanwhile: its writes reference a missing `users` row.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @classmethod
    def of(cls, exc: errors.IntegrityError) -> ConstraintViolation:
        if isinstance(exc, errors.ForeignKeyViolation):
            return cls(409, "a record this request refers to no longer exists")
        if isinstance(exc, errors.UniqueViolation | errors.ExclusionViolation):
            return cls(409, "a record with these values already exists")
        return cls(422, "the request breaks a data constraint")


class UnsafeDatabaseRole(RuntimeError):
    """The app's role would bypass row-level security, which would silently void tenant isolation."""


class Database:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, ca_pem: str | None = None) -> None:
        self.url = url
        self._checked_out: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()
        conninfo, options = connect_args(url, ca_pem)
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=5.0,
            # Connections broken by a database restart are replaced on checkout, not handed to a request.
            check=self._check,
            # Autocommit: transactions are explicit (`transaction`, `read`), so their BEGIN can share a round trip.
            kwargs={"row_factory": dict_row, "connect_timeout": 5, "autocommit": True, **options},
            reconnect_timeout=3600,
            name="grid",
        )

    async def open(self, connect_budget: float = 0.0) -> None:
        """Open the pool; the first connection is retried for ``connect_budget`` seconds (instance start)."""
        await self.pool.open(wait=False)
        await retry_connect(
            self.assert_role_respects_rls,
            what="database",
            budget=connect_budget,
            retry_on=(PoolTimeout, psycopg.OperationalError),
        )

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    async def _check(self, conn: Conn) -> None:
        """The pool's check on checkout, without a round trip for a connection in steady use.

        An idle connection has nothing to read: when the server ends it (a restart, a failover, an idle timeout,
        a terminated backend) it sends its goodbye and closes the socket, which makes the socket readable. So a
        readable socket, or a connection idle longer than RECHECK_IDLE_SECONDS (long enough for a peer to vanish
        without a word, e.g. a host replaced behind the same address), gets psycopg_pool's full check (an empty
        query), which raises for a broken connection and the pool replaces it. The rest, a connection that worked
        moments ago and has heard nothing since, is used at once: sending to the server is the costliest step of a
        read (profiled in docs/benchmarks.md, "App services"), and this was one send per request.
        """
        now = time.monotonic()
        last = self._checked_out.get(conn)
        self._checked_out[conn] = now
        if last is None or now - last > RECHECK_IDLE_SECONDS or conn.closed or _readable(conn):
            await AsyncConnectionPool.check_connection(conn)

    async def assert_role_respects_rls(self) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            row = await cur.fetchone()
        if row and (row["rolsuper"] or row["rolbypassrls"]):
            raise UnsafeDatabaseRole("DATABASE_URL connects as a superuser or BYPASSRLS role; use an ordinary role")

    @asynccontextmanager
    async def transaction(self, user_id: UUID | None = None) -> AsyncIterator[Conn]:
        """A transaction for `user_id` (if given) around the caller's statements.

        The pool's connections are in autocommit mode and the transaction is explicit: BEGIN and the statement that
        sets the user are queued together in pipeline mode and sent in one round trip (psycopg's own implicit BEGIN
        would be a round trip of its own), before anything the caller runs. The user is gone when the transaction
        ends, by commit or rollback.
        """
        try:
            async with self.pool.connection() as conn:
                try:
                    async with conn.pipeline():
                        await _begin(conn, user_id)
                    yield conn
                except BaseException:
                    await _rollback(conn)
                    raise
                await conn.execute("COMMIT")
        except errors.IntegrityError as exc:
            # Only the constraint's class reaches the caller: its message names tables, columns and values.
            raise ConstraintViolation.of(exc) from None

    async def read(self, user_id: UUID | None, statements: Sequence[Statement]) -> list[list[DictRow]]:
        """Each statement's rows, run in order in one transaction for `user_id` (if given), in one round trip.

        BEGIN, the statement that sets the user, `statements` and COMMIT are queued in pipeline mode and sent
        together; the server runs them in that order, so the user is set, in the same transaction, before any of
        them reads. If one fails, the server skips the rest up to the pipeline's sync (COMMIT included) and the
        error is raised here, after the transaction is rolled back.
        """
        async with self.pool.connection() as conn:
            try:
                async with conn.pipeline():
                    await _begin(conn, user_id)
                    cursors = [await conn.execute(sql, params) for sql, params in statements]
                    await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise
            return [await cur.fetchall() for cur in cursors]

    async def ping(self) -> None:
        async with self.pool.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")


async def _begin(conn: Conn, user_id: UUID | None) -> None:
    """BEGIN and, for a user, the statement that sets it (queued, when the connection is in pipeline mode)."""
    await conn.execute("BEGIN")
    if user_id is not None:
        await conn.execute(f"SELECT {_SET_USER}", (str(user_id),))


async def _rollback(conn: Conn) -> None:
    """End a failed transaction. A broken connection cannot roll back; the pool drops it on return."""
    with contextlib.suppress(psycopg.Error):
        await conn.execute("ROLLBACK")


def _readable(conn: Conn) -> bool:
    """Whether the server has sent anything (or closed the socket) since the connection was last used."""
    poller = select.poll()  # not select.select: it cannot watch descriptors above FD_SETSIZE (1024)
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))
