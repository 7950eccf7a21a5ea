"""All SQL of the api service. Every function runs inside `Database.transaction(user_id)`, so row-level
security limits it to the caller's rows; the queries still name no user id of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from app.common.db import Conn, Statement

_AGENT = "id, name, description, model, system_prompt, created_at, updated_at"
_CONVERSATION = "id, agent_id, title, created_at, updated_at"
_MESSAGE = "id, conversation_id, role, content, created_at"
AGENT_FIELDS = ("name", "description", "model", "system_prompt")
IDEMPOTENCY_TTL = "24 hours"


# What psycopg returns for uuid and timestamptz columns, and their JSON form. Looked up by exact type: it runs for
# every value of every row read, and these are the classes psycopg's loaders create.
_TO_JSON: dict[type, Any] = {UUID: str, datetime: datetime.isoformat}


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready values, which is what the cache stores and responses send."""
    get = _TO_JSON.get
    return {k: v if (to_json := get(type(v))) is None else to_json(v) for k, v in row.items()}


async def _one(conn: Conn, sql: str, params: tuple = ()) -> dict[str, Any] | None:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return jsonable(row) if row else None


async def _all(conn: Conn, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    cur = await conn.execute(sql, params)
    return [jsonable(r) for r in await cur.fetchall()]


# -- agents ----------------------------------------------------------------------------------------------------


async def insert_agent(conn: Conn, fields: dict[str, Any]) -> dict[str, Any]:
    row = await _one(
        conn,
        f"INSERT INTO agents (name, description, model, system_prompt) VALUES (%s, %s, %s, %s) RETURNING {_AGENT}",
        tuple(fields[f] for f in AGENT_FIELDS),
    )
    assert row is not None
    return row


# Reads the service caches are statements (run by `Database.read`, one round trip with the transaction around
# them) and what becomes of their rows.


def list_agents(limit: int) -> Statement:
    return f"SELECT {_AGENT} FROM agents ORDER BY created_at DESC, id LIMIT %s", (limit,)


def get_agent(agent_id: UUID) -> Statement:
    return f"SELECT {_AGENT} FROM agents WHERE id = %s", (agent_id,)


def all_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [jsonable(r) for r in rows]


def one_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return jsonable(rows[0]) if rows else None


async def update_agent(conn: Conn, agent_id: UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    # Column names come from the fixed AGENT_FIELDS list, never from the request.
    cols = [f for f in AGENT_FIELDS if f in changes]
    assignments = ", ".join([*(f"{c} = %s" for c in cols), "updated_at = now()"])
    return await _one(
        conn,
        f"UPDATE agents SET {assignments} WHERE id = %s RETURNING {_AGENT}",
        (*(changes[c] for c in cols), agent_id),
    )


async def delete_agent(conn: Conn, agent_id: UUID) -> bool:
    cur = await conn.execute("DELETE FROM agents WHERE id = %s", (agent_id,))
    return cur.rowcount > 0


# -- conversations ---------------------------------------------------------------------------------------------


async def insert_conversation(conn: Conn, agent_id: UUID, title: str) -> dict[str, Any] | None:
    # INSERT ... SELECT: no row when the agent is not visible to this user (missing or someone else's).
    return await _one(
        conn,
        f"INSERT INTO conversations (agent_id, title) SELECT id, %s FROM agents WHERE id = %s RETURNING {_CONVERSATION}",
        (title, agent_id),
    )


def list_conversations(limit: int) -> Statement:
    return f"SELECT {_CONVERSATION} FROM conversations ORDER BY created_at DESC, id LIMIT %s", (limit,)


def get_conversation(conversation_id: UUID) -> Statement:
    return f"SELECT {_CONVERSATION} FROM conversations WHERE id = %s", (conversation_id,)


# -- messages --------------------------------------------------------------------------------------------------


async def next_message_seq(conn: Conn, conversation_id: UUID) -> dict[str, Any] | None:
    # The row lock taken here is held to commit: messages of one conversation commit in `seq` order.
    cur = await conn.execute(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = now() WHERE id = %s"
        " RETURNING last_seq, agent_id",
        (conversation_id,),
    )
    return await cur.fetchone()


async def insert_message(conn: Conn, conversation_id: UUID, seq: int, role: str, content: str) -> dict[str, Any]:
    row = await _one(
        conn,
        f"INSERT INTO messages (conversation_id, seq, role, content) VALUES (%s, %s, %s, %s) RETURNING {_MESSAGE}",
        (conversation_id, seq, role, content),
    )
    assert row is not None
    return row


async def page_messages(conn: Conn, conversation_id: UUID, after_seq: int, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_MESSAGE}, seq FROM messages WHERE conversation_id = %s AND seq > %s ORDER BY seq LIMIT %s",
        (conversation_id, after_seq, limit),
    )
    return [jsonable(r) for r in await cur.fetchall()]


def message_page(conversation_id: UUID, after_seq: int, limit: int) -> Statement:
    """Up to `limit` messages after `after_seq`, each with its `seq`; no row at all if the conversation is not
    visible (missing or someone else's), one row of NULLs if it has no such message: one statement tells an empty
    page from a 404 (see `page_rows`)."""
    return (
        f"SELECT {', '.join(f'm.{c}' for c in (*_MESSAGE.split(', '), 'seq'))} FROM conversations c"
        f" LEFT JOIN LATERAL (SELECT {_MESSAGE}, seq FROM messages WHERE conversation_id = c.id AND seq > %s"
        " ORDER BY seq LIMIT %s) m ON true WHERE c.id = %s ORDER BY m.seq",
        (after_seq, limit, conversation_id),
    )


def page_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The messages of a `message_page` read, or None if the conversation is not visible."""
    if not rows:
        return None
    return [] if rows[0]["id"] is None else all_rows(rows)


async def conversation_last_seq(conn: Conn, conversation_id: UUID) -> int | None:
    cur = await conn.execute("SELECT last_seq FROM conversations WHERE id = %s", (conversation_id,))
    row = await cur.fetchone()
    return row["last_seq"] if row else None


# -- idempotency keys and the outbox ---------------------------------------------------------------------------


async def claim_idempotency_key(conn: Conn, key: str, request_hash: bytes) -> bool:
    await conn.execute(
        f"DELETE FROM idempotency_keys WHERE key = %s AND created_at < now() - interval '{IDEMPOTENCY_TTL}'",
        (key,),
    )
    # A concurrent request with the same key blocks here until the first one commits, then finds its result.
    cur = await conn.execute(
        "INSERT INTO idempotency_keys (key, request_hash) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING key",
        (key, request_hash),
    )
    return await cur.fetchone() is not None


async def get_idempotency_record(conn: Conn, key: str) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT request_hash, status_code, response FROM idempotency_keys WHERE key = %s", (key,))
    return await cur.fetchone()


async def store_idempotent_response(conn: Conn, key: str, status: int, body: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status_code = %s, response = %s WHERE key = %s", (status, Jsonb(body), key)
    )


async def insert_outbox_event(conn: Conn, event_type: str, payload: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO outbox (event_type, payload) VALUES (%s, %s)", (event_type, Jsonb(payload)))


async def claim_outbox_batch(conn: Conn, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, event_id, event_type, payload, created_at FROM outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return await cur.fetchall()


async def delete_outbox_rows(conn: Conn, ids: list[int]) -> None:
    await conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
