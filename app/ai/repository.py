"""All SQL of the ai service. Every function on users' data runs inside `Database.transaction(user_id)`: row-level
security limits it to that user's rows, so an event naming another user's message, or a search, can never cross
tenants. Scraped items are nobody's (the last section)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from app.common.db import Conn


def vector_literal(vector: Any) -> str:
    """pgvector's text form; 7 significant digits keep float32 exactly enough for cosine ranking."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


async def message_content(conn: Conn, message_id: UUID) -> str | None:
    cur = await conn.execute("SELECT content FROM messages WHERE id = %s", (message_id,))
    row = await cur.fetchone()
    return row["content"] if row else None


async def stale_messages(conn: Conn, model: str, after: UUID | None, limit: int) -> list[dict[str, Any]]:
    """The user's messages with no embedding or one from another model, after `after` in id order: the work of a
    reindex task. What a previous delivery already stored no longer matches, so a redelivery redoes nothing."""
    cur = await conn.execute(
        """SELECT m.id, m.content FROM messages m LEFT JOIN message_embeddings e ON e.message_id = m.id
           WHERE (e.message_id IS NULL OR e.model <> %s) AND (%s::uuid IS NULL OR m.id > %s::uuid)
           ORDER BY m.id LIMIT %s""",
        (model, after, after, limit),
    )
    return [dict(r) for r in await cur.fetchall()]


async def store_embedding(conn: Conn, message_id: UUID, model: str, vector: Any) -> bool:
    """Store a message's embedding; the conversation and owner come from the message row itself (visible only
    if it belongs to the transaction's user). False if the message is not the user's or is gone."""
    cur = await conn.execute(
        """INSERT INTO message_embeddings (message_id, conversation_id, model, embedding)
           SELECT id, conversation_id, %s, %s::vector FROM messages WHERE id = %s
           ON CONFLICT (message_id) DO UPDATE SET model = EXCLUDED.model, embedding = EXCLUDED.embedding""",
        (model, vector_literal(vector), message_id),
    )
    return cur.rowcount > 0


async def search(
    conn: Conn, vector: Any, conversation_id: UUID | None, limit: int, ef_search: int = 100
) -> list[dict[str, Any]]:
    """The user's messages nearest to `vector` by cosine similarity, best first.

    The HNSW index holds every user's vectors and row-level security filters them after the index scan;
    pgvector's iterative scan keeps walking the graph until `limit` rows survive the filter, instead of
    returning fewer than asked when other users' vectors crowd the nearest candidates.
    """
    await conn.execute(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true)",
        (str(max(ef_search, limit)),),
    )
    # relaxed_order may return near-ties slightly out of order; the outer ORDER BY restores exact order.
    cur = await conn.execute(
        """WITH hits AS MATERIALIZED (
               SELECT message_id, embedding <=> %(q)s::vector AS distance
               FROM message_embeddings
               WHERE %(cid)s::uuid IS NULL OR conversation_id = %(cid)s::uuid
               ORDER BY embedding <=> %(q)s::vector
               LIMIT %(limit)s)
           SELECT h.message_id, m.conversation_id, m.content, 1 - h.distance AS score
           FROM hits h JOIN messages m ON m.id = h.message_id
           ORDER BY h.distance, h.message_id""",
        {"q": vector_literal(vector), "cid": conversation_id, "limit": limit},
    )
    return [
        {
            "message_id": str(r["message_id"]),
            "conversation_id": str(r["conversation_id"]),
            "content": r["content"],
            "score": float(r["score"]),
        }
        for r in await cur.fetchall()
    ]


async def recent_messages(conn: Conn, conversation_id: UUID, limit: int) -> list[dict[str, Any]] | None:
    """The conversation's last `limit` messages, oldest first; None if it is not the user's."""
    cur = await conn.execute("SELECT 1 FROM conversations WHERE id = %s", (conversation_id,))
    if await cur.fetchone() is None:
        return None
    cur = await conn.execute(
        """SELECT role, content FROM (
               SELECT role, content, seq FROM messages WHERE conversation_id = %s ORDER BY seq DESC LIMIT %s
           ) recent ORDER BY seq""",
        (conversation_id, limit),
    )
    return [dict(r) for r in await cur.fetchall()]


async def tokens_used(conn: Conn, day: date) -> int:
    cur = await conn.execute("SELECT tokens FROM ai_token_usage WHERE day = %s", (day,))
    row = await cur.fetchone()
    return int(row["tokens"]) if row else 0


async def add_tokens(conn: Conn, day: date, tokens: int) -> int:
    cur = await conn.execute(
        """INSERT INTO ai_token_usage (day, tokens) VALUES (%s, %s)
           ON CONFLICT (user_id, day) DO UPDATE SET tokens = ai_token_usage.tokens + EXCLUDED.tokens
           RETURNING tokens""",
        (day, tokens),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["tokens"])


# -- scraped items (app/ai/items.py): shared content, read and written in a transaction without a user ----------


async def known_items(conn: Conn, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (source, item id) keys are stored already: a redelivery embeds nothing again."""
    cur = await conn.execute(
        """SELECT source, item_id FROM scraped_items
           WHERE (source, item_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return {(r["source"], r["item_id"]) for r in await cur.fetchall()}


async def store_item(conn: Conn, item: Any, model: str, vector: Any) -> bool:
    """Store one item once: False when its (source, item id), or its link in that source, is stored already."""
    cur = await conn.execute(
        """INSERT INTO scraped_items (source, item_id, url, title, content, published, model, embedding)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector) ON CONFLICT DO NOTHING""",
        (item.source, item.item_id, item.url, item.title, item.content, item.published, model, vector_literal(vector)),
    )
    return cur.rowcount > 0


async def search_items(conn: Conn, vector: Any, limit: int, ef_search: int = 100) -> list[dict[str, Any]]:
    """The stored items nearest to `vector` by cosine similarity, best first."""
    await conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(ef_search, limit)),))
    # The inner ORDER BY is the distance alone, which the HNSW index can answer; ties are ordered outside.
    cur = await conn.execute(
        """WITH hits AS MATERIALIZED (
               SELECT source, item_id, embedding <=> %(q)s::vector AS distance
               FROM scraped_items ORDER BY embedding <=> %(q)s::vector LIMIT %(limit)s)
           SELECT i.source, i.item_id, i.url, i.title, i.content, i.published, 1 - h.distance AS score
           FROM hits h JOIN scraped_items i USING (source, item_id)
           ORDER BY h.distance, h.source, h.item_id""",
        {"q": vector_literal(vector), "limit": limit},
    )
    return [{**r, "score": float(r["score"])} for r in await cur.fetchall()]
