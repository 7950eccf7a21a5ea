"""The outbox relay in request mode (Cloud Run with request-based billing): no loop; the committing request
publishes before it responds, and a failed publish is retried by the next commit. Real Postgres: a database of this
module's own, since the session's api server relays the shared database's outbox every 0.5 s and would publish
these tests' events to its own publisher (a full run once saw none reach the test's)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import sql

from app.api import repository as repo
from app.api.events import Event
from app.api.outbox import OutboxRelay
from app.common.db import Database
from app.common.migrations import apply_migrations


@pytest.fixture(scope="module")
def outbox_db(postgres) -> Iterator[SimpleNamespace]:
    """A database of its own on the session's server, owned by the app role, with pgvector for the migrations."""
    name = f"outbox_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(postgres.role)))
    with psycopg.connect(postgres._server.get_uri(database=name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    yield SimpleNamespace(url=postgres._server.get_postmaster_info().get_uri(user=postgres.role, database=name))
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.fail = False

    async def publish(self, events: list[Event]) -> None:
        if self.fail:
            raise ConnectionError("publisher down")
        self.sent.extend(events)

    async def close(self) -> None:
        pass


async def _relay(database, publisher: Recorder, **options: float) -> tuple[Database, OutboxRelay]:
    """A request-mode relay (not started) over the migrated test database."""
    await apply_migrations(database.url)
    db = Database(database.url, min_size=0, max_size=2)
    await db.open()
    return db, OutboxRelay(db, publisher, interval=3600, in_request=True, **options)


def test_request_mode_publishes_inside_the_request_and_retries_on_the_next_commit(outbox_db) -> None:
    async def go() -> tuple[list[str], list[str], bool]:
        publisher = Recorder()
        db, relay = await _relay(outbox_db, publisher)
        relay.start()
        no_loop = relay._task is None
        try:
            publisher.fail = True
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-mode", {"n": 1})
            await relay.after_commit()  # the publisher is down: logged, the row stays
            failed = [e.data["n"] for e in publisher.sent if e.type == "test.outbox-mode"]
            publisher.fail = False
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-mode", {"n": 2})
            await relay.after_commit()  # publishes both, before "responding"
            sent = sorted(e.data["n"] for e in publisher.sent if e.type == "test.outbox-mode")
            return failed, sent, no_loop
        finally:
            await relay.stop()
            await db.close()

    failed, sent, no_loop = asyncio.run(go())
    assert failed == [] and sent == [1, 2] and no_loop


class Hanging(Recorder):
    async def publish(self, events: list[Event]) -> None:
        await asyncio.sleep(3600)


def _left_over(database, n: int) -> list[int]:
    """Events of type test.outbox-sweep-<n> still in the outbox."""

    async def go() -> list[int]:
        db = Database(database.url, min_size=0, max_size=1)
        await db.open()
        try:
            async with db.transaction() as conn:
                rows = await (
                    await conn.execute("SELECT payload FROM outbox WHERE event_type = %s", (f"test.outbox-sweep-{n}",))
                ).fetchall()
            return sorted(r["payload"]["n"] for r in rows)
        finally:
            await db.close()

    return asyncio.run(go())


def test_a_failed_publish_goes_out_when_the_instance_stops_though_nothing_else_is_committed(outbox_db) -> None:
    async def go() -> tuple[list[int], list[int]]:
        publisher = Recorder()
        db, relay = await _relay(outbox_db, publisher)
        relay.start()
        try:
            publisher.fail = True
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-sweep-1", {"n": 1})
            await relay.after_commit()  # publisher down: the row stays, and no later commit comes
            during = [e.data["n"] for e in publisher.sent if e.type == "test.outbox-sweep-1"]
            publisher.fail = False
        finally:
            await relay.stop()  # Cloud Run scales the quiet instance in: SIGTERM, the lifespan's shutdown
            await db.close()
        return during, [e.data["n"] for e in publisher.sent if e.type == "test.outbox-sweep-1"]

    during, after_stop = asyncio.run(go())
    assert during == [] and after_stop == [1]
    assert _left_over(outbox_db, 1) == []


def test_what_an_earlier_instance_left_is_published_when_the_next_one_starts(outbox_db) -> None:
    async def go() -> list[int]:
        publisher = Recorder()
        db, relay = await _relay(outbox_db, publisher)
        async with db.transaction() as conn:  # committed by an instance killed before it could publish
            await repo.insert_outbox_event(conn, "test.outbox-sweep-2", {"n": 7})
        relay.start()
        try:
            for _ in range(200):  # the start's sweep runs beside the first requests, not before them
                if any(e.type == "test.outbox-sweep-2" for e in publisher.sent):
                    break
                await asyncio.sleep(0.01)
            return [e.data["n"] for e in publisher.sent if e.type == "test.outbox-sweep-2"]
        finally:
            await relay.stop()
            await db.close()

    assert asyncio.run(go()) == [7]
    assert _left_over(outbox_db, 2) == []


def test_the_stop_sweep_is_bounded_and_loses_nothing_it_could_not_publish(outbox_db) -> None:
    async def go() -> None:
        db, relay = await _relay(outbox_db, Hanging(), shutdown_seconds=0.3)
        try:
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-sweep-3", {"n": 3})
        finally:
            await relay.stop()  # the publisher never answers: the sweep gives up at its bound
            await db.close()

    asyncio.run(asyncio.wait_for(go(), timeout=30))
    assert _left_over(outbox_db, 3) == [3]  # still there for the next instance
