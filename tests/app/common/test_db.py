"""Migrations and row-level security, directly against Postgres (no Python filtering involved)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from app.common.db import Database, UnsafeDatabaseRole, _readable
from app.common.migrations import Migration, MigrationError, apply_migrations, load_migrations


def test_migrations_are_versioned_and_idempotent(postgres, api_server):
    assert [m.version for m in load_migrations()] == sorted(m.version for m in load_migrations())

    # Already applied by the services at startup; applying again (several at once) does nothing.
    async def go():
        return await asyncio.gather(*(apply_migrations(postgres.url) for _ in range(3)))

    assert asyncio.run(go()) == [[], [], []]
    with psycopg.connect(postgres.url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in load_migrations()]


def test_an_edited_migration_is_refused(postgres, api_server):
    first = load_migrations()[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- edited")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        asyncio.run(apply_migrations(postgres.url, [edited]))


def test_row_level_security_hides_other_tenants_rows_even_without_where(postgres, make_user, api, make_agent):
    alice, bob = make_user(), make_user()
    make_agent(alice, name="alice-agent")
    make_agent(bob, name="bob-agent")

    async def names(user_id: str | None) -> list[str]:
        db = Database(postgres.url, min_size=0, max_size=1)
        await db.open()
        try:
            async with db.transaction(uuid.UUID(user_id) if user_id else None) as conn:
                cur = await conn.execute("SELECT name FROM agents")  # no WHERE clause at all
                return [r["name"] for r in await cur.fetchall()]
        finally:
            await db.close()

    assert asyncio.run(names(alice.id)) == ["alice-agent"]
    assert asyncio.run(names(bob.id)) == ["bob-agent"]
    assert asyncio.run(names(None)) == []


def test_writes_for_another_tenant_are_refused_by_the_database(postgres, make_user):
    alice, bob = make_user(), make_user()
    with psycopg.connect(postgres.url) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (alice.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO agents (user_id, name, model) VALUES (%s, 'x', 'm')", (bob.id,))


def test_the_setting_does_not_leak_past_the_transaction(postgres, make_user):
    alice = make_user()

    async def go():
        db = Database(postgres.url, min_size=1, max_size=1)  # one connection: reuse is guaranteed
        await db.open()
        try:
            async with db.transaction(uuid.UUID(alice.id)) as conn:
                assert (await (await conn.execute("SELECT app_user_id()")).fetchone())["app_user_id"] is not None
            async with db.transaction() as conn:
                return (await (await conn.execute("SELECT app_user_id()")).fetchone())["app_user_id"]
        finally:
            await db.close()

    assert asyncio.run(go()) is None


def test_superuser_connections_are_refused(postgres):
    async def go():
        db = Database(postgres.admin_url, min_size=0, max_size=1)
        try:
            await db.open()
        finally:
            await db.close()

    with pytest.raises(UnsafeDatabaseRole):
        asyncio.run(go())


def test_access_path_indexes_exist_and_are_used(postgres, api_server):
    with psycopg.connect(postgres.admin_url) as conn:
        defs = {
            r[0]: r[1] for r in conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        }
        assert "(lower(email))" in defs["users_email_key"] and "UNIQUE" in defs["users_email_key"]
        assert "(created_at DESC)" in defs["users_created_at_idx"]
        assert "(user_id, created_at DESC, id)" in defs["agents_user_idx"]
        assert "(conversation_id, created_at)" in defs["messages_conversation_created_idx"]
        assert "(conversation_id, seq)" in defs["messages_conversation_seq_key"]
        conn.execute("SET enable_seqscan = off")  # tiny test tables: ask what the planner *can* use
        plan = conn.execute(
            "EXPLAIN SELECT * FROM messages WHERE conversation_id = gen_random_uuid() AND seq > 10 ORDER BY seq LIMIT 20"
        ).fetchall()
        assert "messages_conversation_seq_key" in " ".join(r[0] for r in plan)
        plan = conn.execute("EXPLAIN SELECT id FROM users WHERE lower(email) = 'a@b.c'").fetchall()
        assert "users_email_key" in " ".join(r[0] for r in plan)


def test_integrity_errors_become_client_errors_in_the_data_layer(postgres, api_server):
    from app.api import repository as repo
    from app.common.db import ConstraintViolation

    gone = uuid.uuid4()  # e.g. the user of a still-valid token, deleted meanwhile

    async def write(statement) -> ConstraintViolation:
        db = Database(postgres.url, min_size=0, max_size=1)
        await db.open()
        try:
            with pytest.raises(ConstraintViolation) as info:
                async with db.transaction(gone) as conn:
                    await statement(conn)
            return info.value
        finally:
            await db.close()

    fields = {"name": "a", "description": "", "model": "m", "system_prompt": ""}
    for statement in (lambda c: repo.insert_agent(c, fields), lambda c: repo.claim_idempotency_key(c, "k", b"h")):
        exc = asyncio.run(write(statement))
        assert exc.status == 409 and "no longer exists" in exc.detail
        assert "users" not in exc.detail and str(gone) not in exc.detail  # no internals


def test_a_deleted_users_token_writing_gets_a_4xx_not_a_500(postgres, api, make_user, make_conversation):
    user = make_user()
    conv = make_conversation(user)
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
    writes = [
        ("/v1/agents", {"name": "late"}, {}),
        (f"/v1/conversations/{conv['id']}/messages", {"role": "user", "content": "hi"}, {"Idempotency-Key": "k1"}),
    ]
    for path, body, extra in writes:
        r = api.post(path, json=body, headers={**user.headers, **extra})
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str)


def test_the_user_is_set_in_the_transaction_the_callers_statements_run_in(postgres, make_user):
    """BEGIN and the statement setting the user travel in one round trip with (`read`) or before (`transaction`) the
    caller's statements; they still open the caller's transaction (the setting is transaction-local: seen at all,
    it was set in this transaction), a failure rolls all of it back, and the connection comes back clean."""
    alice = make_user()
    uid = uuid.UUID(alice.id)
    mine = ("SELECT txid_current() AS x, app_user_id() AS u", ())

    async def go():
        db = Database(postgres.url, min_size=1, max_size=1)  # one connection: reuse is guaranteed
        await db.open()
        try:
            first, second = await db.read(uid, [mine, mine])
            assert first == second and first[0]["u"] == uid  # one transaction, the user's
            with pytest.raises(psycopg.errors.DivisionByZero):
                await db.read(uid, [mine, ("SELECT 1 / 0", ())])
            async with db.transaction(uid) as conn:
                assert (await (await conn.execute(*mine)).fetchone())["u"] == uid
            with pytest.raises(RuntimeError):
                async with db.transaction(uid) as conn:
                    await conn.execute("INSERT INTO agents (name, model) VALUES ('rolled back', 'm')")
                    raise RuntimeError("after the write")
            ((names,),) = await db.read(uid, [("SELECT array_agg(name) AS n FROM agents", ())])
            ((after,),) = await db.read(None, [mine])
            async with db.transaction() as conn:
                leaked = (await (await conn.execute(*mine)).fetchone())["u"]
            return names["n"] or [], after["u"], leaked
        finally:
            await db.close()

    names, after, leaked = asyncio.run(go())
    assert "rolled back" not in names
    assert after is None and leaked is None


def test_a_connection_ended_by_the_server_is_replaced_on_checkout_without_a_failed_request(postgres, monkeypatch):
    """The checkout check skips its round trip for a connection in steady use, but not for one the server ended."""
    from psycopg_pool import AsyncConnectionPool

    full_checks = []
    real = AsyncConnectionPool.check_connection

    async def counting(conn):
        full_checks.append(conn)
        await real(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counting))

    async def go():
        db = Database(postgres.url, min_size=1, max_size=1)
        await db.open()
        try:
            async with db.transaction() as first:
                first_pid = first.info.backend_pid
            checks_after_first = len(full_checks)
            async with db.transaction() as conn:  # moments later, nothing heard: no round trip to check it
                assert conn.info.backend_pid == first_pid
            assert len(full_checks) == checks_after_first
            with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
            for _ in range(100):  # the goodbye reaches the socket asynchronously
                if _readable(first):
                    break
                await asyncio.sleep(0.01)
            async with db.transaction() as conn:  # the ended connection is replaced, not handed out
                assert (await (await conn.execute("SELECT 1 AS one")).fetchone())["one"] == 1
                assert conn.info.backend_pid != first_pid
            assert len(full_checks) > checks_after_first
        finally:
            await db.close()

    asyncio.run(go())
