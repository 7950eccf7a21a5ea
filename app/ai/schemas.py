from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.common.schemas import RequestBody

MAX_TEXT_CHARS = 8_000


class EmbedIn(RequestBody):
    texts: list[str] = Field(min_length=1, max_length=64)

    def too_long(self) -> bool:
        return any(len(t) > MAX_TEXT_CHARS for t in self.texts)

    def total_chars(self) -> int:
        return sum(len(t) for t in self.texts)


class EmbedOut(BaseModel):
    model: str
    dim: int
    vectors: list[list[float]]


class SearchIn(RequestBody):
    query: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    conversation_id: UUID | None = None
    limit: int = Field(10, ge=1, le=100)


class SearchHit(BaseModel):
    message_id: UUID
    conversation_id: UUID
    content: str
    score: float


class SearchOut(BaseModel):
    items: list[SearchHit]


class CompleteIn(RequestBody):
    prompt: str = Field(min_length=1, max_length=32_000)
    conversation_id: UUID | None = None
    max_tokens: int = Field(1024, ge=1, le=32_768)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompleteOut(BaseModel):
    model: str
    content: str
    usage: Usage


# GET /ai/items/search: a query is a few words (it is embedded whole); more results are one more page of reading.
MAX_ITEM_QUERY_CHARS = 500
MAX_ITEM_RESULTS = 50


class ScrapedItem(BaseModel):
    """One item of the scraper's (app/ai/items.py), as stored and as search answers it."""

    model_config = ConfigDict(frozen=True)

    source: str
    item_id: str
    url: str | None
    title: str
    content: str
    """The text that is embedded: title and summary, plain, at most MAX_TEXT_CHARS."""
    published: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.item_id)


class ItemHit(ScrapedItem):
    score: float


class ItemSearchOut(BaseModel):
    items: list[ItemHit]
