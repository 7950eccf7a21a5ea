"""Scraped items made searchable: the consumer of the scraper job's ``item.scraped`` events (jobs/scraper).

Pub/Sub pushes each event to ``POST /ai/events/items`` through a subscription filtered to that type (the stack makes
it only while a workload publishes item.scraped: stacks/serving.py). Delivery is at least once and the scraper may
publish an item again after a failed run, so storing is idempotent on the item's key, (source, item id), and on its
link within the source: a key already stored is neither embedded again nor written (repository.store_item).

An item's searchable text is its title and summary (or, for JSON sources, their usual fields), as plain text:
feeds carry HTML in summaries, which would otherwise be embedded tag by tag.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any

from app.ai import repository as repo
from app.ai.schemas import MAX_TEXT_CHARS, ScrapedItem
from app.common.db import Database

log = logging.getLogger("app.ai.items")

EVENT_TYPE = "item.scraped"  # jobs/scraper/scraper.py EVENT_TYPE (tests/app/ai/test_items.py compares them)
# Fields that hold an item's words, most telling first: RSS/Atom entries as the scraper parses them, and the usual
# names in JSON sources.
TITLE_FIELDS = ("title", "name", "headline")
TEXT_FIELDS = ("summary", "description", "content", "text", "body")
URL_FIELDS = ("link", "url")
MAX_TITLE_CHARS = 1000
MAX_URL_CHARS = 2000
MAX_KEY_CHARS = (200, 2000)  # source, item id: the table's limits (migrations/0004_scraped_items.sql)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain(value: str) -> str:
    """The text of an HTML fragment (or of plain text), whitespace collapsed. The standard library's parser is
    enough here: only the words are kept, nothing is rendered or trusted."""
    parser = _Text()
    parser.feed(value)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def _first(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    return next((plain(v) for f in fields if isinstance(v := item.get(f), str) and v.strip()), "")


def scraped_item(event_type: str, data: dict[str, Any]) -> ScrapedItem | None:
    """The item an ``item.scraped`` event carries, or None (logged) when it is another type or cannot be stored."""
    if event_type != EVENT_TYPE:
        return None
    source, item_id, item = data.get("source"), data.get("itemId"), data.get("item")
    if not (isinstance(source, str) and source and isinstance(item_id, str) and item_id and isinstance(item, dict)):
        log.warning("ignoring a malformed item.scraped event")
        return None
    if len(source) > MAX_KEY_CHARS[0] or len(item_id) > MAX_KEY_CHARS[1]:
        log.warning("ignoring an item.scraped event whose source or item id is too long")
        return None
    title = _first(item, TITLE_FIELDS)[:MAX_TITLE_CHARS]
    url = next(
        (v for f in URL_FIELDS if isinstance(v := item.get(f), str) and v.startswith(("http://", "https://"))), None
    )
    url = url if url is not None and len(url) <= MAX_URL_CHARS else None
    text = "\n".join(part for part in (title, _first(item, TEXT_FIELDS)) if part)[:MAX_TEXT_CHARS]
    if not text:
        log.warning("ignoring an item.scraped event with no text to search (source %s)", source)
        return None
    published = item.get("published")
    return ScrapedItem(
        source=source,
        item_id=item_id,
        url=url,
        title=title,
        content=text,
        published=published if isinstance(published, str) else None,
    )


class ItemIndexer:
    def __init__(self, db: Database, embed: Callable[[list[str]], Awaitable[Any]], model: str) -> None:
        self.db = db
        self.embed = embed
        self.model = model

    async def store(self, items: list[ScrapedItem]) -> int:
        """Embed and store the items not stored yet; returns how many were stored now."""
        async with self.db.transaction() as conn:
            known = await repo.known_items(conn, [i.key for i in items])
        new = list({i.key: i for i in items if i.key not in known}.values())
        if not new:
            return 0
        vectors = await self.embed([i.content for i in new])
        stored = 0
        async with self.db.transaction() as conn:
            for item, vector in zip(new, vectors, strict=True):
                stored += await repo.store_item(conn, item, self.model, vector)
        return stored

    async def search(self, vector: Any, limit: int) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            return await repo.search_items(conn, vector, limit)
