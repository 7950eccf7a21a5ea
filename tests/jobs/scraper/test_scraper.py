"""The scraper job against a local HTTP server (its sources and a Pub/Sub emulator endpoint) and a local Postgres."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.common.pubsub import PubSubPublisher
from grid.local import LocalPostgres
from jobs.scraper import scraper

TOPIC = "projects/p/topics/events"
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><guid>n-1</guid><title>First</title><link>https://example.test/1</link></item>
<item><guid>n-2</guid><title>Second</title><link>https://example.test/2</link></item>
</channel></rss>"""


class Site:
    """What the local server serves, and what it was asked for."""

    def __init__(self) -> None:
        self.json_items: list[dict[str, Any]] = [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]
        self.flaky_failures = 0
        self.hits: dict[str, int] = {}
        self.published: list[dict[str, Any]] = []
        self.publish_fails = False
        self.release = threading.Event()  # the slow source answers only once the test is over


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Site, str]]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.hits[self.path] = state.hits.get(self.path, 0) + 1
            if self.path == "/feed.rss":
                self._send(200, RSS, "application/rss+xml")
            elif self.path == "/items.json":
                self._send(200, json.dumps({"data": {"items": state.json_items}}).encode())
            elif self.path == "/flaky.json":
                if state.hits[self.path] <= state.flaky_failures:
                    self._send(503, b"{}")
                else:
                    self._send(200, json.dumps([{"id": "f-1"}]).encode())
            elif self.path == "/slow.json":
                state.release.wait(30)
                self._send(200, b"[]")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != f"/v1/{TOPIC}:publish" or state.publish_fails:
                self._send(500 if state.publish_fails else 404, b"{}")
                return
            state.published += body["messages"]
            ids = [str(len(state.published) - i) for i in range(len(body["messages"]))]
            self._send(200, json.dumps({"messageIds": ids}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() returns at serve_forever's next poll: every 0.5 s by default, a wait on each teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state, f"127.0.0.1:{server.server_address[1]}"
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def database(postgres_data: Path) -> str:
    """A database of the scraper's own on the session's server, as its job's own role."""
    return LocalPostgres(postgres_data, database="scraper").start()


@pytest.fixture
def fresh(site: tuple[Site, str], database: str) -> tuple[Site, str, str]:
    state, host = site
    state.hits.clear()
    state.published.clear()
    state.publish_fails, state.flaky_failures = False, 0
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS scraper_items")
    return state, host, database


def settings(host: str, *sources: dict[str, str], timeout: float = 5.0, retries: int = 2) -> scraper.Settings:
    listed = [{**s, "url": f"http://{host}{s['url']}"} for s in sources]
    return scraper.Settings(
        sources=scraper.parse_sources(json.dumps(listed)), timeout_seconds=timeout, retries=retries, backoff_seconds=0
    )


def run_once(config: scraper.Settings, host: str, database: str) -> scraper.RunResult:
    async def go() -> scraper.RunResult:
        publisher = PubSubPublisher(TOPIC, emulator_host=host)
        try:
            return await scraper.run(config, database, publisher)
        finally:
            await publisher.close()

    return asyncio.run(go())


def decoded(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(message["data"]))


RSS_SOURCE = {"name": "news", "url": "/feed.rss", "format": "rss"}
JSON_SOURCE = {"name": "shop", "url": "/items.json", "format": "json", "items": "data.items"}


def test_publishes_new_items_of_json_and_rss_sources_once(fresh) -> None:
    state, host, database = fresh
    config = settings(host, RSS_SOURCE, JSON_SOURCE)
    first = run_once(config, host, database)
    assert first.published == {"news": 2, "shop": 2} and not first.failed
    assert {m["attributes"]["type"] for m in state.published} == {"item.scraped"}
    assert sorted((decoded(m)["source"], decoded(m)["itemId"]) for m in state.published) == [
        ("news", "n-1"),
        ("news", "n-2"),
        ("shop", "1"),
        ("shop", "2"),
    ]
    assert decoded(state.published[0])["item"]["title"] == "First"

    state.json_items.append({"id": 3, "title": "c"})
    second = run_once(config, host, database)
    assert second.published == {"news": 0, "shop": 1}
    assert [decoded(m)["itemId"] for m in state.published[4:]] == ["3"]
    state.json_items.pop()


def test_retries_a_failing_source_and_gives_up_on_one_past_its_deadline(fresh) -> None:
    state, host, database = fresh
    state.flaky_failures = 2
    config = settings(
        host,
        {"name": "flaky", "url": "/flaky.json", "format": "json"},
        {"name": "slow", "url": "/slow.json", "format": "json"},
        timeout=0.5,
        retries=2,
    )
    result = run_once(config, host, database)
    assert result.published == {"flaky": 1}
    assert state.hits["/flaky.json"] == 3  # two 503s, then the items
    assert state.hits["/slow.json"] == 3  # each attempt cut at its deadline, then retried
    assert "slow: timed out (attempt 3)" in result.failed["slow"]


def test_a_failed_publish_records_nothing_so_the_next_run_publishes_again(fresh) -> None:
    state, host, database = fresh
    config = settings(host, RSS_SOURCE)
    state.publish_fails = True
    assert run_once(config, host, database).failed == {"news": "news: publishing failed (HTTPStatusError)"}
    state.publish_fails = False
    assert run_once(config, host, database).published == {"news": 2}
    ids = [m["attributes"]["id"] for m in state.published]
    assert len(ids) == len(set(ids)) == 2


def test_a_client_error_is_not_retried(fresh) -> None:
    state, host, database = fresh
    result = run_once(settings(host, {"name": "gone", "url": "/missing", "format": "json"}), host, database)
    assert state.hits["/missing"] == 1 and "HTTPStatusError" in result.failed["gone"]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "SCRAPER_SOURCES: not JSON"),
        ("[]", "non-empty JSON list"),
        ('[{"name": "a", "url": "ftp://x", "format": "json"}]', "SCRAPER_SOURCES[0].url"),
        ('[{"name": "a", "url": "http://x", "format": "xml"}]', "SCRAPER_SOURCES[0].format: must be json or rss"),
        ('[{"name": "a", "url": "http://x", "format": "rss", "extra": 1}]', "unknown key(s) extra"),
    ],
)
def test_bad_sources_are_one_line_errors(raw: str, problem: str) -> None:
    with pytest.raises(scraper.ScraperConfigError) as caught:
        scraper.parse_sources(raw)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_main_refuses_missing_settings_without_touching_anything(monkeypatch, caplog) -> None:
    monkeypatch.setenv("SCRAPER_SOURCES", json.dumps([RSS_SOURCE | {"url": "http://127.0.0.1:1/x"}]))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert scraper.main() == 2
    assert "DATABASE_URL: required" in caplog.text


def test_json_items_without_an_id_are_skipped() -> None:
    source = scraper.Source("s", "http://x", "json")
    items = scraper.parse(source, json.dumps([{"id": "a"}, {"title": "no id"}, {"id": "a"}]).encode())
    assert [i.id for i in items] == ["a"]
