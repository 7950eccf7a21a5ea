"""The ai service's operations, between the thin routes and the SQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import numpy as np

from app.ai import repository as repo
from app.ai.completion import Completion, CompletionClient
from app.ai.embeddings import MicroBatcher
from app.common.cache import TwoLayerCache
from app.common.db import Database
from app.common.metrics import METRICS

CONTEXT_MESSAGES = 20


class NotFound(Exception):
    pass


class BudgetExceeded(Exception):
    def __init__(self, used: int, budget: int) -> None:
        super().__init__(f"{used}/{budget}")
        self.used = used
        self.budget = budget


def content_key(model: str, text: str) -> str:
    return f"emb:{model}:{hashlib.sha256(text.encode()).hexdigest()}"


class AiService:
    def __init__(
        self,
        db: Database,
        vectors: TwoLayerCache,
        batcher: MicroBatcher,
        model: str,
        completions: CompletionClient,
        daily_token_budget: int,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.batcher = batcher
        self.model = model
        self.completions = completions
        self.daily_token_budget = daily_token_budget

    # -- embeddings --------------------------------------------------------------------------------------------

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`, from the content-addressed cache or, for the misses of all concurrent callers
        together, one model call.

        Batched inference is not bit-for-bit independent of what else is in the batch (differences ~1e-7), so
        identical text gets an identical vector by being served from the cache. Entries are keyed by a hash of
        the content and never go stale, so their TTLs are long.
        """

        async def one(text: str) -> list[float]:
            async def load() -> list[float]:
                [vector] = await self.batcher.embed([text])
                return [float(x) for x in vector]

            return json.loads(await self.vectors.get_or_load(content_key(self.model, text), load))

        return list(await asyncio.gather(*(one(t) for t in texts)))

    async def embed_array(self, texts: list[str]) -> np.ndarray:
        return np.asarray(await self.embed(texts), dtype=np.float32)

    # -- search ------------------------------------------------------------------------------------------------

    async def search(self, uid: UUID, query: str, conversation_id: UUID | None, limit: int) -> list[dict[str, Any]]:
        [vector] = await self.embed([query])
        async with self.db.transaction(uid) as conn:
            return await repo.search(conn, vector, conversation_id, limit)

    # -- completions -------------------------------------------------------------------------------------------

    async def complete(self, uid: UUID, prompt: str, conversation_id: UUID | None, max_tokens: int) -> Completion:
        today = datetime.now(UTC).date()
        async with self.db.transaction(uid) as conn:
            used = await repo.tokens_used(conn, today)
            if used >= self.daily_token_budget:
                raise BudgetExceeded(used, self.daily_token_budget)
            history = []
            if conversation_id is not None:
                found = await repo.recent_messages(conn, conversation_id, CONTEXT_MESSAGES)
                if found is None:
                    raise NotFound()
                history = found
        messages = [{"role": m["role"], "content": m["content"]} for m in history if m["role"] != "tool"]
        messages.append({"role": "user", "content": prompt})
        # Never promise more than the budget has left.
        completion = await self.completions.complete(
            messages, max_tokens=min(max_tokens, self.daily_token_budget - used)
        )
        async with self.db.transaction(uid) as conn:
            await repo.add_tokens(conn, today, completion.total_tokens)
        METRICS.tokens(completion.model, completion.prompt_tokens, completion.completion_tokens)
        return completion
