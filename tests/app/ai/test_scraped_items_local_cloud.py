"""The scraper's items reach ai's search through the dev plan's wiring, as `grid local --stack dev` runs it:

scraper job (fetches a local RSS feed, publishes item.scraped as its own service account) -> the local cloud's
Pub/Sub (grid/localcloud/pubsub.py: the plan's topic, publisher grants, subscriptions and their filters) -> push with
an OIDC token from the local issuer that stands for Google, for the plan's audience -> ai verifies it, embeds and
stores the item in real Postgres -> GET /ai/items/search finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.common.pubsub import Event, PubSubPublisher
from grid.engine import run_program
from grid.local import free_port
from grid.localcloud.cloud import LocalCloud
from grid.localcloud.identity import Issuer, certs_route
from grid.localcloud.pki import LocalPki
from grid.localcloud.pubsub import Forbidden, PubSub, pubsub_routes
from grid.localcloud.topology import Subscription, read_topology
from grid.plan import project_root, project_spec
from grid.stackfile import read_stack_file
from jobs.scraper import scraper
from tests.app.ai.conftest import start_ai
from tests.app.conftest import ServerThread

pytestmark = pytest.mark.timeout(300)

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Release notes</title>
<item><guid>rn-1</guid><title>Cloud SQL adds a new machine series</title>
<link>https://example.com/rn-1</link><description>Faster &lt;b&gt;PostgreSQL&lt;/b&gt; instances.</description></item>
<item><guid>rn-2</guid><title>Pub/Sub filters now accept regular expressions</title>
<link>https://example.com/rn-2</link><description>Filter messages by attribute patterns.</description></item>
</channel></rss>"""


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """The dev plan read as the local cloud reads it, and the issuer that stands for Google."""
    pki = LocalPki(tmp_path_factory.mktemp("pki"))
    run = run_program(
        read_stack_file(project_root(project_spec()), "dev"), cloud=partial(LocalCloud, ca_pem=pki.ca_pem), reveal=True
    )
    return read_topology(run), Issuer(pki.issuer_key)


@pytest.fixture(scope="module")
def feed() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.rss"
    server.shutdown()
    server.server_close()


class Google:
    """The local cloud's Google side for the scraper: the plan's Pub/Sub (its REST surface as the scraper's account
    calls it) and Google's signing keys, with pushes delivered to the local ai by path."""

    def __init__(self, topology, issuer: Issuer, ai_url: str) -> None:
        self.issuer = issuer
        self.ai_url = ai_url
        self.ai_urls = topology.workloads["ai"].urls
        self.pushed: list[tuple[str, int]] = []
        self.pubsub = PubSub(topology.topics, topology.subscriptions, self.push, retry_scale=0.01)
        scraper_account = f"serviceAccount:{topology.workloads['scraper'].service_account}"
        app = Starlette(routes=[*pubsub_routes(self.pubsub, scraper_account)], lifespan=self._lifespan)
        self.server = ServerThread(app).start()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.pubsub.start()  # its delivery loops run on the server's event loop
        yield
        await self.pubsub.stop()

    async def push(self, sub: Subscription, envelope: dict[str, Any]) -> int:
        assert sub.push_endpoint and sub.push_identity and sub.push_audience
        base = next((url for url in self.ai_urls if sub.push_endpoint.startswith(url)), None)
        if base is None:  # ml-analytics is not run here: its push is acknowledged
            self.pushed.append((sub.name, 204))
            return 204
        token = self.issuer.id_token(sub.push_identity, sub.push_audience)
        async with httpx.AsyncClient(timeout=60) as client:
            resp = await client.post(
                self.ai_url + sub.push_endpoint[len(base) :],
                json=envelope,
                headers={"Authorization": f"Bearer {token}"},
            )
        self.pushed.append((sub.name, resp.status_code))
        return resp.status_code


@pytest.fixture(scope="module")
def wired(dev, postgres, redis_server, auth_server, api_server, embedder) -> Iterator[tuple[Any, Google, Any]]:
    topology, issuer = dev
    env = topology.workloads["ai"].env
    port = free_port()  # where Google's keys are served: ai is told before the Pub/Sub side can start
    ai = start_ai(
        postgres,
        redis_server,
        auth_server.url,
        embedder,
        EVENTS_BACKEND=env["EVENTS_BACKEND"],
        PUSH_AUDIENCE=env["PUSH_AUDIENCE"],
        PUSH_SERVICE_ACCOUNT=env["PUSH_SERVICE_ACCOUNT"],
        GOOGLE_CERTS_URL=f"http://127.0.0.1:{port}/oauth2/v3/certs",
    )
    google = Google(topology, issuer, ai.url)
    certs = ServerThread(Starlette(routes=[certs_route(issuer)]), port=port).start()
    yield topology, google, ai
    google.server.stop()
    certs.stop()
    ai.stop()


def _run_scraper(topology, google: Google, feed: str, database_url: str) -> scraper.RunResult:
    env = topology.workloads["scraper"].env
    settings = scraper.Settings(
        sources=(scraper.Source(f"notes-{uuid.uuid4().hex[:8]}", feed, "rss"),), timeout_seconds=5, retries=0
    )
    publisher = PubSubPublisher(env["PUBSUB_TOPIC"], emulator_host=google.server.url.removeprefix("http://"))

    async def go() -> scraper.RunResult:
        try:
            return await scraper.run(settings, database_url, publisher)
        finally:
            await publisher.close()

    return asyncio.run(go())


def _item_subscription(topology) -> str:
    [name] = [n for n, s in topology.subscriptions.items() if s.filter == 'attributes.type = "item.scraped"']
    return name


def test_the_scrapers_items_are_pushed_stored_and_found(wired, feed, postgres, user) -> None:
    topology, google, ai = wired
    result = _run_scraper(topology, google, feed, postgres.url)
    assert not result.failed and list(result.published.values()) == [2]
    items = _item_subscription(topology)
    deadline = time.monotonic() + 120
    while google.pubsub.stats()[items]["delivered"] < 2:
        assert time.monotonic() < deadline, (google.pubsub.stats(), google.pushed)
        time.sleep(0.2)
    r = httpx.get(
        f"{ai.url}/ai/items/search", params={"q": "postgres database hardware", "limit": 5}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    best = r.json()["items"][0]
    assert (best["item_id"], best["url"]) == ("rn-1", "https://example.com/rn-1")
    assert best["content"] == "Cloud SQL adds a new machine series\nFaster PostgreSQL instances."


def test_the_filter_keeps_other_events_off_the_items_subscription(wired) -> None:
    topology, google, _ = wired
    items = _item_subscription(topology)
    before = google.pubsub.stats()[items]
    topic = topology.workloads["scraper"].env["PUBSUB_TOPIC"]
    event = Event(str(uuid.uuid4()), "message.created", "t", {"message": {"id": str(uuid.uuid4())}})
    message = {"data": "", "attributes": {"type": event.type, "id": event.id}}
    google.pubsub.publish(topic, [message], None)
    indexer = next(n for n in topology.subscriptions if n.endswith("-events-ai-indexer"))
    deadline = time.monotonic() + 60
    while google.pubsub.stats()[indexer]["backlog"]:
        assert time.monotonic() < deadline, google.pubsub.stats()
        time.sleep(0.2)
    assert google.pubsub.stats()[items] == before


def test_only_the_plans_publishers_may_publish(wired) -> None:
    """The scraper's account holds the topic's publisher grant (reads: [events]); ai's does not."""
    topology, google, _ = wired
    topic = topology.workloads["scraper"].env["PUBSUB_TOPIC"]
    scraper_account = f"serviceAccount:{topology.workloads['scraper'].service_account}"
    assert google.pubsub.publish(topic, [{"data": "", "attributes": {"type": "x.y"}}], scraper_account)
    with pytest.raises(Forbidden):
        google.pubsub.publish(topic, [{"data": ""}], f"serviceAccount:{topology.workloads['ai'].service_account}")
