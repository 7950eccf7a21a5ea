"""Agents, conversations and messages: caching, invalidation, idempotency and events around the repository."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.api import repository as repo
from app.api.cursors import decode_cursor, encode_cursor
from app.api.outbox import OutboxRelay
from app.api.realtime import MessageHub
from app.common.cache import TwoLayerCache
from app.common.db import Conn, Database, Statement

LIST_LIMIT = 200


class NotFound(Exception):
    pass


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request."""


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    replayed: bool


def _items(rows: list[Any]) -> dict[str, Any]:
    return {"items": repo.all_rows(rows)}


# Cache keys always start with the user id: a cached value is only ever served to the user it was read for.
def _user_tag(uid: UUID) -> str:
    return f"u:{uid}"


def _agents_tag(uid: UUID) -> str:
    return f"u:{uid}:agents"


def _conversations_tag(uid: UUID) -> str:
    return f"u:{uid}:convs"


def _conversation_tag(cid: UUID | str) -> str:
    return f"conv:{cid}"


class ApiService:
    def __init__(self, db: Database, cache: TwoLayerCache, hub: MessageHub, relay: OutboxRelay) -> None:
        self.db = db
        self.cache = cache
        self.hub = hub
        self.relay = relay

    @asynccontextmanager
    async def _writing(self, uid: UUID, *tags: str) -> AsyncIterator[Conn]:
        """A transaction for the user that also bumps `tags`' cache versions, and evicts them from L1 after commit."""
        async with self.db.transaction(uid) as conn:
            yield conn
            await self.cache.bump(conn, *tags)
        await self.cache.invalidate(*tags)

    async def _cached(
        self, uid: UUID, key: str, tags: list[str], statement: Statement, shape: Callable[[list[Any]], Any]
    ) -> bytes:
        """A JSON body from the two-layer cache: `shape` of the rows `statement` reads for the user; NotFound if
        `shape` makes None of them (misses are never cached)."""

        def value(rows: list[Any]) -> Any:
            shaped = shape(rows)
            if shaped is None:
                raise NotFound()
            return shaped

        return await self.cache.get_or_read(f"u:{uid}:{key}", statement, value, [_user_tag(uid), *tags], user_id=uid)

    # -- agents ----------------------------------------------------------------------------------------------

    async def create_agent(self, uid: UUID, fields: dict[str, Any]) -> dict[str, Any]:
        async with self._writing(uid, _agents_tag(uid)) as conn:
            agent = await repo.insert_agent(conn, fields)
        return agent

    async def list_agents(self, uid: UUID) -> bytes:
        return await self._cached(uid, "agents", [_agents_tag(uid)], repo.list_agents(LIST_LIMIT), _items)

    async def get_agent(self, uid: UUID, aid: UUID) -> bytes:
        return await self._cached(uid, f"agent:{aid}", [_agents_tag(uid)], repo.get_agent(aid), repo.one_row)

    async def update_agent(self, uid: UUID, aid: UUID, changes: dict[str, Any]) -> dict[str, Any]:
        async with self._writing(uid, _agents_tag(uid)) as conn:
            agent = await repo.update_agent(conn, aid, changes)
        if agent is None:
            raise NotFound()
        return agent

    async def delete_agent(self, uid: UUID, aid: UUID) -> None:
        # The delete cascades to conversations and messages: drop everything cached for this user.
        async with self._writing(uid, _user_tag(uid)) as conn:
            deleted = await repo.delete_agent(conn, aid)
        if not deleted:
            raise NotFound()

    # -- conversations ---------------------------------------------------------------------------------------

    async def create_conversation(self, uid: UUID, agent_id: UUID, title: str) -> dict[str, Any]:
        async with self._writing(uid, _conversations_tag(uid)) as conn:
            conv = await repo.insert_conversation(conn, agent_id, title)
        if conv is None:
            raise NotFound()
        return conv

    async def list_conversations(self, uid: UUID) -> bytes:
        return await self._cached(uid, "convs", [_conversations_tag(uid)], repo.list_conversations(LIST_LIMIT), _items)

    async def get_conversation(self, uid: UUID, cid: UUID) -> bytes:
        return await self._cached(
            uid, f"conv:{cid}", [_conversation_tag(cid)], repo.get_conversation(cid), repo.one_row
        )

    # -- messages --------------------------------------------------------------------------------------------

    async def page_messages(self, uid: UUID, cid: UUID, limit: int, cursor: str | None) -> bytes:
        after = decode_cursor(cursor)

        def page(rows: list[Any]) -> dict[str, Any] | None:
            messages = repo.page_rows(rows)
            if messages is None:
                return None
            more = len(messages) > limit
            messages = messages[:limit]
            next_cursor = encode_cursor(messages[-1]["seq"]) if more else None
            for m in messages:
                del m["seq"]
            return {"items": messages, "next_cursor": next_cursor}

        return await self._cached(
            uid,
            f"conv:{cid}:msgs:{after}:{limit}",
            [_conversation_tag(cid)],
            repo.message_page(cid, after, limit + 1),
            page,
        )

    async def post_message(self, uid: UUID, cid: UUID, role: str, content: str, idempotency_key: str | None) -> Created:
        request_hash = hashlib.sha256(json.dumps([str(cid), role, content]).encode()).digest()
        async with self._writing(uid, _conversation_tag(cid), _conversations_tag(uid)) as conn:
            if idempotency_key is not None and not await repo.claim_idempotency_key(
                conn, idempotency_key, request_hash
            ):
                record = await repo.get_idempotency_record(conn, idempotency_key)
                if record is None or bytes(record["request_hash"]) != request_hash or record["response"] is None:
                    raise IdempotencyKeyReused()
                return Created(record["response"], replayed=True)
            counter = await repo.next_message_seq(conn, cid)
            if counter is None:
                raise NotFound()
            message = await repo.insert_message(conn, cid, counter["last_seq"], role, content)
            await repo.insert_outbox_event(
                conn,
                "message.created",
                {"message": message, "user_id": str(uid), "agent_id": str(counter["agent_id"])},
            )
            if idempotency_key is not None:
                await repo.store_idempotent_response(conn, idempotency_key, 201, message)
        await self.hub.publish(str(cid), message, counter["last_seq"])
        await self.relay.after_commit()
        return Created(message, replayed=False)

    # -- the stream's catch-up (uncached: it must see every committed message) ------------------------------------

    async def last_seq(self, uid: UUID, cid: UUID) -> int:
        async with self.db.transaction(uid) as conn:
            return await repo.conversation_last_seq(conn, cid) or 0

    async def messages_after(self, uid: UUID, cid: UUID, after_seq: int, limit: int) -> list[dict[str, Any]]:
        """Messages with seq > after_seq in order, each with its `seq`."""
        async with self.db.transaction(uid) as conn:
            return await repo.page_messages(conn, cid, after_seq, limit)
