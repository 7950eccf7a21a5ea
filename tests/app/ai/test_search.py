"""Messages are indexed from their message.created events and found by meaning, never across users."""

from __future__ import annotations

import uuid

import pytest

FACTS = {
    "deploy": "The production deployment is scheduled for Thursday at 3pm after the database migration.",
    "cat": "My cat Whiskers refuses to eat anything except salmon.",
    "rent": "The landlord raised the monthly rent by ten percent this year.",
    "guitar": "I have been practising barre chords on my acoustic guitar every evening.",
    "flight": "Our flight to Lisbon was delayed by three hours because of a storm.",
}


def _search(ai, user, query: str, **extra) -> list[dict]:
    r = ai.post("/ai/search", json={"query": query, **extra}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def indexed(ai, make_user, make_conversation, post_message, wait_until):
    """A user with the FACTS posted through the api, waited for until all are searchable."""
    user = make_user()
    conv = make_conversation(user)
    ids = {key: post_message(user, conv["id"], text)["id"] for key, text in FACTS.items()}
    assert wait_until(lambda: len(_search(ai, user, "anything", limit=100)) == len(FACTS), timeout=30)
    return user, conv, ids


def test_finds_the_right_message_among_decoys(ai, indexed):
    user, _, ids = indexed
    cases = {
        "when do we ship the release to prod?": "deploy",
        "what does my pet like to eat": "cat",
        "housing costs went up": "rent",
        "learning to play an instrument": "guitar",
        "travel plans disrupted by bad weather": "flight",
    }
    for query, key in cases.items():
        items = _search(ai, user, query, limit=3)
        assert items[0]["message_id"] == ids[key], (query, items)
        assert items[0]["content"] == FACTS[key]
        scores = [i["score"] for i in items]
        assert scores == sorted(scores, reverse=True)


def test_never_returns_another_users_messages(ai, indexed, make_user, make_conversation, post_message, wait_until):
    owner, _, _ = indexed
    other = make_user()
    conv = make_conversation(other)
    decoy = post_message(other, conv["id"], "My cat Whiskers refuses to eat anything except salmon.")
    assert wait_until(lambda: len(_search(ai, other, "cat", limit=10)) == 1, timeout=30)
    # The owner's identical-content message exists, and the other user still only sees their own.
    assert [i["message_id"] for i in _search(ai, other, "what does my pet eat", limit=100)] == [decoy["id"]]
    assert decoy["id"] not in {i["message_id"] for i in _search(ai, owner, "cat salmon", limit=100)}
    stranger = make_user()
    assert _search(ai, stranger, "cat salmon", limit=100) == []


def test_conversation_filter(ai, indexed, make_conversation, post_message, wait_until):
    user, _, _ = indexed
    other_conv = make_conversation(user)
    extra = post_message(user, other_conv["id"], "Salmon is also my favourite fish for dinner.")
    assert wait_until(lambda: any(i["message_id"] == extra["id"] for i in _search(ai, user, "salmon dinner")), 30)
    only = _search(ai, user, "salmon", conversation_id=other_conv["id"])
    assert [i["message_id"] for i in only] == [extra["id"]]
    assert _search(ai, user, "salmon", conversation_id=str(uuid.uuid4())) == []


def test_forged_event_cannot_index_another_users_message(indexed, make_user, postgres, embedder):
    """The indexer reads content and ownership from the database under the event's user: an event that pairs
    a message with the wrong user stores nothing, and the real pairing is stored (idempotently)."""
    import asyncio
    from uuid import UUID

    from app.ai.indexer import Indexer, MessageRef
    from app.common.db import Database

    owner, _, ids = indexed
    intruder = make_user()

    async def run() -> tuple[int, int, int]:
        db = Database(postgres.url, max_size=2)
        await db.open()
        try:
            indexer = Indexer(db, lambda texts: asyncio.to_thread(embedder.encode, texts), embedder.name)
            forged = await indexer.index([MessageRef(UUID(ids["rent"]), UUID(intruder.id))])
            genuine = await indexer.index([MessageRef(UUID(ids["rent"]), UUID(owner.id))])
            missing = await indexer.index([MessageRef(UUID(int=1), UUID(owner.id))])
            return forged, genuine, missing
        finally:
            await db.close()

    assert asyncio.run(run()) == (0, 1, 0)


def test_search_validation(ai, user):
    assert ai.post("/ai/search", json={"query": ""}, headers=user.headers).status_code == 422
    assert ai.post("/ai/search", json={"query": "x", "limit": 0}, headers=user.headers).status_code == 422
    assert ai.post("/ai/search", json={"query": "x", "limit": 101}, headers=user.headers).status_code == 422
