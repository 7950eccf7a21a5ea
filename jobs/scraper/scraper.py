"""The scheduled scraper (a Cloud Run job on a Cloud Scheduler trigger, declared in the stack file's grid:jobs).

Each run fetches the configured HTTP sources (JSON or RSS/Atom), keeps the items it has not published before and
publishes them to the stack's events topic as ``item.scraped`` events, which the platform consumes.

De-duplication state lives in Postgres (table ``scraper_items``), not Redis: every Grid stack has the database
(dev has no Redis), it is durable and backed up, and one transaction per source ties "recorded" to "published":
the new items are inserted (``ON CONFLICT DO NOTHING RETURNING`` says which are new), published, and only then
committed. A failed publish rolls the rows back, so the next run publishes them again; a run that dies between
publish and commit publishes them twice, so consumers get at-least-once delivery and de-duplicate on the
message's ``id`` attribute, as they do for the api's events. Concurrent runs cannot both publish an item: the
second run's insert waits on the first one's row lock and then finds the row.

Every source has its own deadline (SCRAPER_TIMEOUT_SECONDS, the whole attempt: connect, wait and read) and is
retried with exponential backoff (SCRAPER_RETRIES) on connection errors, timeouts, 429 and 5xx; one failing source
does not stop the others, but the run exits non-zero so Cloud Run retries the task and the failure shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import feedparser
import httpx
import psycopg

from app.common import tls
from app.common.pgconnect import connect_args
from app.common.pubsub import Event, PubSubPublisher

log = logging.getLogger("scraper")

EVENT_TYPE = "item.scraped"
# topics.publish takes at most 1,000 messages per request: https://cloud.google.com/pubsub/quotas#resource_limits
PUBLISH_BATCH = 500
SCHEMA = """
CREATE TABLE IF NOT EXISTS scraper_items (
    source text NOT NULL,
    item_id text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, item_id)
)
"""


class ScraperConfigError(ValueError):
    """SCRAPER_SOURCES (or another setting) is malformed: one line saying what to fix."""


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    format: Literal["json", "rss"]
    items: str = ""
    """JSON: dotted path to the list of items ("" when the document is the list, "data.items" otherwise)."""
    id: str = "id"
    """JSON: the field that identifies an item."""


@dataclass(frozen=True)
class Settings:
    sources: tuple[Source, ...]
    timeout_seconds: float = 10.0
    retries: int = 3
    backoff_seconds: float = 1.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            sources=parse_sources(env.get("SCRAPER_SOURCES", "")),
            timeout_seconds=_number(env, "SCRAPER_TIMEOUT_SECONDS", 10.0, 0.1, 300),
            retries=int(_number(env, "SCRAPER_RETRIES", 3, 0, 10)),
            backoff_seconds=_number(env, "SCRAPER_BACKOFF_SECONDS", 1.0, 0, 60),
        )


def _number(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ScraperConfigError(f"{name}: must be a number between {low:g} and {high:g} (got {raw!r})") from None
    if not low <= value <= high:
        raise ScraperConfigError(f"{name}: must be between {low:g} and {high:g} (got {raw!r})")
    return value


def parse_sources(raw: str) -> tuple[Source, ...]:
    """SCRAPER_SOURCES: a JSON list of {name, url, format: json|rss, items?, id?}."""
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ScraperConfigError(f"SCRAPER_SOURCES: not JSON ({exc.msg}); expected a list of sources") from None
    if not isinstance(entries, list) or not entries:
        raise ScraperConfigError("SCRAPER_SOURCES: expected a non-empty JSON list of {name, url, format}")
    sources, names = [], set()
    for i, entry in enumerate(entries):
        where = f"SCRAPER_SOURCES[{i}]"
        if not isinstance(entry, dict):
            raise ScraperConfigError(f"{where}: expected an object with name, url and format")
        unknown = set(entry) - {"name", "url", "format", "items", "id"}
        if unknown:
            raise ScraperConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name, url, fmt = entry.get("name"), entry.get("url"), entry.get("format")
        if not isinstance(name, str) or not name or name in names:
            raise ScraperConfigError(f"{where}.name: required, a unique non-empty string")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ScraperConfigError(f"{where}.url: must be an http:// or https:// URL")
        if fmt not in ("json", "rss"):
            raise ScraperConfigError(f"{where}.format: must be json or rss (got {fmt!r})")
        names.add(name)
        sources.append(Source(name, url, fmt, items=str(entry.get("items", "")), id=str(entry.get("id", "id"))))
    return tuple(sources)


@dataclass(frozen=True)
class Item:
    source: str
    id: str
    data: dict[str, Any] = field(compare=False)


class FetchError(Exception):
    """A source could not be fetched or parsed (after its retries)."""


def parse(source: Source, body: bytes) -> list[Item]:
    """The items of one fetched document, in document order, first occurrence of an id kept."""
    if source.format == "rss":
        feed = feedparser.parse(body)
        if feed.bozo and not feed.entries:
            raise FetchError(f"{source.name}: not an RSS/Atom feed ({feed.bozo_exception})")
        raw_items = [
            {
                "id": entry.get("id") or entry.get("link") or entry.get("title"),
                "title": entry.get("title"),
                "link": entry.get("link"),
                "published": entry.get("published") or entry.get("updated"),
                "summary": entry.get("summary"),
            }
            for entry in feed.entries
        ]
        key = "id"
    else:
        try:
            document: Any = json.loads(body)
        except ValueError as exc:
            raise FetchError(f"{source.name}: not JSON ({exc})") from None
        for part in filter(None, source.items.split(".")):
            document = document.get(part) if isinstance(document, dict) else None
        if not isinstance(document, list):
            raise FetchError(f"{source.name}: no list of items at '{source.items or '(document)'}'")
        raw_items, key = [i for i in document if isinstance(i, dict)], source.id
    items: dict[str, Item] = {}
    for raw in raw_items:
        ident = raw.get(key)
        if ident is None or ident == "":
            continue  # nothing to de-duplicate on: skipped rather than published on every run
        items.setdefault(str(ident), Item(source.name, str(ident), raw))
    return list(items.values())


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, (httpx.TransportError, TimeoutError))


async def fetch(http: httpx.AsyncClient, source: Source, settings: Settings) -> list[Item]:
    """GET one source within its deadline, retrying transient failures with exponential backoff."""
    for attempt in range(settings.retries + 1):
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                response = await http.get(source.url, follow_redirects=True)
                response.raise_for_status()
                body = await response.aread()
            return parse(source, body)
        except (httpx.HTTPError, TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            if not _retryable(exc) or attempt == settings.retries:
                raise FetchError(f"{source.name}: {reason} (attempt {attempt + 1})") from None
            log.warning("source %s: %s; retrying (attempt %d)", source.name, reason, attempt + 1)
            await asyncio.sleep(settings.backoff_seconds * 2**attempt)
    raise AssertionError("unreachable")


class Publisher(Protocol):
    async def publish(self, events: list[Event]) -> None: ...


def to_events(items: Sequence[Item]) -> list[Event]:
    now = datetime.now(UTC).isoformat()
    # The message id is stable per item (uuid5 of source and item id): consumers de-duplicate a re-publish on it.
    return [
        Event(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{item.source}\0{item.id}")),
            type=EVENT_TYPE,
            time=now,
            data={"source": item.source, "itemId": item.id, "item": item.data},
        )
        for item in items
    ]


async def publish_new(conn: psycopg.AsyncConnection, publisher: Publisher, items: Sequence[Item]) -> int:
    """Record and publish the items of one source not published before; returns how many were new."""
    if not items:
        return 0
    async with conn.transaction():
        cursor = await conn.execute(
            "INSERT INTO scraper_items (source, item_id) SELECT %s, unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING RETURNING item_id",
            (items[0].source, [item.id for item in items]),
        )
        new_ids = {row[0] for row in await cursor.fetchall()}
        new = [item for item in items if item.id in new_ids]
        events = to_events(new)
        for start in range(0, len(events), PUBLISH_BATCH):
            await publisher.publish(events[start : start + PUBLISH_BATCH])  # raising rolls the rows back
    return len(new)


@dataclass
class RunResult:
    published: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def run(
    settings: Settings,
    database_url: str,
    publisher: Publisher,
    http: httpx.AsyncClient | None = None,
    ca_pem: str | None = None,
) -> RunResult:
    """One run: fetch every source concurrently, then publish what is new, source by source. ``ca_pem``:
    DATABASE_CA_CERT, the CA the database server is verified with."""
    result = RunResult()
    own_http = http is None
    http = http or httpx.AsyncClient(headers={"User-Agent": "grid-scraper/1"}, verify=tls.context())
    try:
        fetched = await asyncio.gather(*(fetch(http, s, settings) for s in settings.sources), return_exceptions=True)
    finally:
        if own_http:
            await http.aclose()
    # The stack's URL verifies the server (Cloud SQL: verify-ca with DATABASE_CA_CERT): pgconnect turns the CA
    # into the sslrootcert libpq reads, and turns prepared statements off behind a transaction pooler.
    conninfo, extra = connect_args(database_url, ca_pem)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True, **extra) as conn:
        await conn.execute(SCHEMA)
        for source, items in zip(settings.sources, fetched, strict=True):
            if isinstance(items, BaseException):
                if not isinstance(items, FetchError):
                    raise items
                result.failed[source.name] = str(items)
                continue
            try:
                result.published[source.name] = await publish_new(conn, publisher, items)
            except (httpx.HTTPError, RuntimeError) as exc:
                result.failed[source.name] = f"{source.name}: publishing failed ({type(exc).__name__})"
    return result


def _summary(result: RunResult) -> Iterable[str]:
    for name, count in result.published.items():
        yield f"source {name}: {count} new item(s) published"
    yield from (f"source failed: {reason}" for reason in result.failed.values())


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ScraperConfigError as exc:
        log.error("%s", exc)
        return 2
    for name in ("DATABASE_URL", "PUBSUB_TOPIC"):
        if not os.environ.get(name):
            log.error("%s: required (the stack sets it when the job reads database and events)", name)
            return 2
    publisher = PubSubPublisher(os.environ["PUBSUB_TOPIC"], emulator_host=os.environ.get("PUBSUB_EMULATOR_HOST"))

    async def go() -> RunResult:
        try:
            return await run(settings, os.environ["DATABASE_URL"], publisher, ca_pem=os.environ.get("DATABASE_CA_CERT"))
        finally:
            await publisher.close()

    result = asyncio.run(go())
    for line in _summary(result):
        log.info("%s", line)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
