"""Scraped items (the scraper's item.scraped events) pushed to ai, stored once in real Postgres and found by meaning.

The push is verified like ai's message pushes (tests/app/ai/test_push.py's local JWKS stands for Google's); the
search is a user route with the usual validation, rate and Cache-Control.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from app.ai.items import EVENT_TYPE, plain, scraped_item
from app.ai.schemas import MAX_ITEM_QUERY_CHARS, MAX_ITEM_RESULTS
from app.common.caching import PRIVATE
from jobs.scraper import scraper
from tests.app.ai import test_push as push_fixtures

# A push-enabled ai server and the local JWKS that stands for Google's: test_push's module fixtures, registered here.
push_ai, jwks = push_fixtures.push_ai, push_fixtures.jwks

ITEMS = {
    "release": {"title": "Cloud Run adds GPU support", "summary": "<p>Attach <b>NVIDIA L4</b> GPUs to services.</p>"},
    "recipe": {"title": "A slow-cooked lentil soup", "summary": "Simmer red lentils with cumin and lemon."},
    "match": {"title": "Late goal wins the cup final", "summary": "The striker scored in the 93rd minute."},
}


def _event(source: str, item_id: str, item: dict[str, Any]) -> scraper.Event:
    """The event exactly as the scraper job makes it (jobs/scraper/scraper.py to_events)."""
    [event] = scraper.to_events([scraper.Item(source, item_id, {"id": item_id, **item})])
    return event


def _push(server, jwks, event: scraper.Event, token: str | None = None) -> httpx.Response:
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(event.data).encode()).decode(),
            "attributes": {"type": event.type, "id": event.id},
            "messageId": "1",
        },
        "subscription": "projects/acme-grid-test/subscriptions/grid-test-events-ai-item-scraped",
    }
    token = token if token is not None else jwks.token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}  # "": no token at all
    return httpx.post(f"{server.url}/ai/events/items", json=envelope, headers=headers)


def _rows(postgres, source: str) -> list[tuple]:
    with psycopg.connect(postgres.admin_url) as conn:
        return conn.execute(
            "SELECT item_id, url, title, content, model FROM scraped_items WHERE source = %s ORDER BY item_id",
            (source,),
        ).fetchall()


def _search(server, user, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/ai/items/search", params=params, headers=user.headers, timeout=30)


# -- unit: what an event makes of an item ------------------------------------------------------------------------


def test_the_consumer_reads_the_type_the_scraper_publishes() -> None:
    assert EVENT_TYPE == scraper.EVENT_TYPE


def test_the_registry_pushes_each_consumed_type_to_a_route_of_ai() -> None:
    """gridlib/workloads.py states where the stack pushes (the subscription's endpoint); ai must serve it."""
    from app.ai.routes import events_router
    from gridlib.workloads import BUNDLED_BY_NAME

    served = {(route.path, method) for route in events_router.routes for method in route.methods}
    assert BUNDLED_BY_NAME["ai"].consumes == ((EVENT_TYPE, "/ai/events/items"),)
    for _, path in BUNDLED_BY_NAME["ai"].consumes:
        assert (path, "POST") in served


def test_an_items_text_is_its_title_and_summary_as_plain_text() -> None:
    event = _event("feed", "a", {"link": "https://example.com/a", **ITEMS["release"]})
    item = scraped_item(event.type, event.data)
    assert item is not None
    assert item.content == "Cloud Run adds GPU support\nAttach NVIDIA L4 GPUs to services."
    assert (item.source, item.item_id, item.url, item.title) == (
        "feed",
        "a",
        "https://example.com/a",
        "Cloud Run adds GPU support",
    )
    assert plain("a &amp; <i>b</i>\n\n c") == "a & b c"


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("message.created", {"source": "feed", "itemId": "a", "item": {"title": "t"}}),
        (EVENT_TYPE, {"itemId": "a", "item": {"title": "t"}}),
        (EVENT_TYPE, {"source": "feed", "itemId": "", "item": {"title": "t"}}),
        (EVENT_TYPE, {"source": "feed", "itemId": "a", "item": "not an object"}),
        (EVENT_TYPE, {"source": "feed", "itemId": "a", "item": {"link": "https://example.com"}}),  # no words
        (EVENT_TYPE, {"source": "feed", "itemId": "a" * 2001, "item": {"title": "t"}}),
    ],
)
def test_what_cannot_be_stored_is_not(event_type: str, data: dict) -> None:
    assert scraped_item(event_type, data) is None


def test_a_link_that_is_not_http_is_not_kept() -> None:
    event = _event("feed", "a", {"title": "t", "link": "javascript:alert(1)"})
    item = scraped_item(event.type, event.data)
    assert item is not None and item.url is None


# -- real Postgres: push, store once, search ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(push_ai, jwks, postgres):
    source = f"feed-{uuid.uuid4().hex[:8]}"
    for key, item in ITEMS.items():
        r = _push(push_ai, jwks, _event(source, key, {"link": f"https://example.com/{source}/{key}", **item}))
        assert r.status_code == 204, r.text
    return source


def test_a_pushed_item_is_stored_and_embedded_within_the_request(stored, postgres) -> None:
    rows = _rows(postgres, stored)
    assert [r[0] for r in rows] == sorted(ITEMS)
    assert all(r[4] for r in rows)  # the embedding model is recorded with the vector


def test_a_redelivered_or_republished_item_is_stored_once(push_ai, jwks, stored, postgres) -> None:
    before = _rows(postgres, stored)
    again = _event(stored, "recipe", {"link": f"https://example.com/{stored}/recipe", **ITEMS["recipe"]})
    assert _push(push_ai, jwks, again).status_code == 204
    # The same link under a new id (a feed that changed its guids) is the same item.
    moved = _event(stored, "recipe-v2", {"link": f"https://example.com/{stored}/recipe", **ITEMS["recipe"]})
    assert _push(push_ai, jwks, moved).status_code == 204
    assert _rows(postgres, stored) == before


def test_a_push_without_the_stacks_token_stores_nothing(push_ai, jwks, postgres) -> None:
    source = f"forged-{uuid.uuid4().hex[:8]}"
    event = _event(source, "x", {"title": "forged"})
    assert _push(push_ai, jwks, event, token=jwks.token(aud="someone-else")).status_code == 401
    assert _push(push_ai, jwks, event, token="").status_code == 401
    assert _rows(postgres, source) == []


def test_search_finds_the_item_by_meaning(push_ai, stored, user) -> None:
    cases = {
        "graphics cards for serverless containers": "release",
        "what should I cook for dinner": "recipe",
        "football championship result": "match",
    }
    for query, key in cases.items():
        r = _search(push_ai, user, q=query, limit=MAX_ITEM_RESULTS)
        assert r.status_code == 200, r.text
        assert r.headers.get_list("cache-control") == [PRIVATE]
        mine = [hit for hit in r.json()["items"] if hit["source"] == stored]
        assert mine[0]["item_id"] == key, (query, mine)
        assert mine[0]["url"] == f"https://example.com/{stored}/{key}"
        scores = [hit["score"] for hit in r.json()["items"]]
        assert scores == sorted(scores, reverse=True)


def test_search_limit_bounds_the_answer(push_ai, stored, user) -> None:
    r = _search(push_ai, user, q="news", limit=1)
    assert r.status_code == 200 and len(r.json()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * (MAX_ITEM_QUERY_CHARS + 1)}, "q"),
        ({"q": "soup", "limit": 0}, "limit"),
        ({"q": "soup", "limit": MAX_ITEM_RESULTS + 1}, "limit"),
        ({"q": "soup", "limit": "ten"}, "limit"),
    ],
)
def test_bad_search_parameters_are_one_line_4xx(push_ai, user, params: dict, field: str) -> None:
    r = _search(push_ai, user, **params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "\n" not in body["detail"] and body["errors"][0]["loc"] == ["query", field]
    assert r.headers["cache-control"] == "no-store"


def test_blank_query_is_refused_in_one_line(push_ai, user) -> None:
    r = _search(push_ai, user, q="   ")
    assert r.status_code == 422 and r.json()["detail"] == "q: give some words to search for"


def test_search_needs_a_users_token(push_ai) -> None:
    r = httpx.get(f"{push_ai.url}/ai/items/search", params={"q": "soup"})
    assert r.status_code == 401
