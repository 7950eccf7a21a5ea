"""Embeddings with the real all-MiniLM-L6-v2: determinism, meaning, micro-batching, limits."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from app.ai.embeddings import MicroBatcher


def _cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embed_returns_normalised_384_dim_vectors(ai, user):
    r = ai.post("/ai/embed", json={"texts": ["hello world", "안녕하세요"]}, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "all-MiniLM-L6-v2" and body["dim"] == 384
    assert len(body["vectors"]) == 2
    for v in body["vectors"]:
        assert len(v) == 384 and abs(np.linalg.norm(v) - 1) < 1e-4


def test_identical_text_gets_an_identical_vector(ai, user):
    text = "The quarterly report is due on Friday."
    alone = ai.post("/ai/embed", json={"texts": [text]}, headers=user.headers).json()["vectors"][0]
    batched = ai.post(
        "/ai/embed", json={"texts": ["something else entirely", text, text]}, headers=user.headers
    ).json()["vectors"]
    assert batched[1] == alone and batched[2] == alone


def test_model_is_deterministic_up_to_float_noise(embedder):
    # Without the cache the model itself agrees with itself across batch compositions to ~1e-7.
    a = embedder.encode(["a cat sleeps on the sofa"])[0]
    b = embedder.encode(["an unrelated and much longer sentence about tax law", "a cat sleeps on the sofa"])[1]
    assert np.abs(a - b).max() < 1e-5


def test_related_sentences_score_higher_than_unrelated(ai, user):
    texts = [
        "How do I reset my password?",
        "I forgot my login credentials and need to recover my account.",
        "The recipe needs two cups of flour and an egg.",
        "Tomorrow's weather will be sunny with light winds.",
    ]
    v = ai.post("/ai/embed", json={"texts": texts}, headers=user.headers).json()["vectors"]
    related = _cos(v[0], v[1])
    assert related > 0.4
    assert related > _cos(v[0], v[2]) + 0.2
    assert related > _cos(v[0], v[3]) + 0.2


def test_concurrent_callers_share_model_calls(embedder):
    async def run() -> tuple[int, list[np.ndarray]]:
        batcher = MicroBatcher(embedder, max_batch=64, wait=0.02)
        batcher.start()
        try:
            results = await asyncio.gather(*(batcher.embed([f"sentence number {i}"]) for i in range(40)))
        finally:
            await batcher.stop()
        return batcher.model_calls, results

    calls, results = asyncio.run(run())
    assert calls <= 3, f"40 concurrent texts took {calls} model calls"
    direct = embedder.encode(["sentence number 7"])[0]
    assert np.abs(results[7][0] - direct).max() < 1e-5


def test_batches_never_exceed_the_limit(embedder):
    sizes: list[int] = []

    class Counting:
        dim = embedder.dim

        def encode(self, texts):
            sizes.append(len(texts))
            return embedder.encode(texts)

    async def run() -> None:
        batcher = MicroBatcher(Counting(), max_batch=8, wait=0.02)
        try:
            await asyncio.gather(*(batcher.embed([f"t{i}", f"u{i}", f"v{i}"]) for i in range(10)))
        finally:
            await batcher.stop()

    asyncio.run(run())
    assert sum(sizes) == 30 and max(sizes) <= 8


@pytest.mark.parametrize(
    ("body", "status"),
    [({"texts": []}, 422), ({"texts": ["x"] * 65}, 422), ({"texts": ["x" * 8001]}, 413), ({}, 422)],
)
def test_embed_limits(ai, user, body, status):
    assert ai.post("/ai/embed", json=body, headers=user.headers).status_code == status


def test_ai_routes_need_a_valid_token(ai):
    assert ai.post("/ai/embed", json={"texts": ["x"]}).status_code == 401
    r = ai.post("/ai/search", json={"query": "x"}, headers={"Authorization": "Bearer forged.token.here"})
    assert r.status_code == 401
    for path in ("/health", "/ai/health", "/ready", "/ai/ready"):
        assert ai.get(path).status_code == 200


def test_embed_input_budget_and_text_validity(ai, user):
    # Each text may be 8,000 characters, all of them together EMBED_MAX_CHARS_PER_REQUEST (32,000 by default).
    r = ai.post("/ai/embed", json={"texts": ["x" * 8000] * 5}, headers=user.headers)
    assert r.status_code == 413 and "32000" in r.json()["detail"]
    # JSON escapes can spell a lone UTF-16 surrogate, which is no character (raw bytes: httpx would not encode it).
    headers = {**user.headers, "content-type": "application/json"}
    r = ai.post("/ai/embed", content=b'{"texts": ["ok", "lone \\ud800 surrogate"]}', headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][:2] == ["body", "texts"]
    r = ai.post("/ai/search", content=b'{"query": "\\udfff"}', headers=headers)
    assert r.status_code == 422


class GatedEmbedder:
    """A stand-in model whose calls wait at a gate the test opens, recording how many run at once."""

    name = "gated"
    dim = 384

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def encode(self, texts):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.entered.set()
        self.gate.wait(30)
        with self.lock:
            self.running -= 1
        return np.ones((len(texts), self.dim), dtype=np.float32) / np.sqrt(self.dim)


@pytest.fixture(scope="module")
def gated_ai(postgres, redis_server, auth_server):
    from tests.app.ai.conftest import start_ai

    model = GatedEmbedder()
    server = start_ai(
        postgres,
        redis_server,
        auth_server.url,
        embedder=model,
        EVENTS_BACKEND="none",
        EMBED_REQUESTS_PER_MINUTE=3,
        SEARCH_REQUESTS_PER_MINUTE=3,
        EMBED_BATCH_SIZE=1,  # one text per model call, so two requests need two calls
    )
    yield server, model
    model.gate.set()
    server.stop()


def test_health_and_other_requests_answer_while_the_model_works(gated_ai, make_user):
    server, model = gated_ai
    alice, bob = make_user(), make_user()
    with ThreadPoolExecutor(2) as pool, httpx.Client(base_url=server.url, timeout=30) as client:
        first = pool.submit(client.post, "/ai/embed", json={"texts": [uuid.uuid4().hex]}, headers=alice.headers)
        assert model.entered.wait(30)
        second = pool.submit(client.post, "/ai/embed", json={"texts": [uuid.uuid4().hex]}, headers=bob.headers)
        # The model is busy (its call is held at the gate), yet the service answers everything else.
        assert client.get("/health").status_code == 200
        assert client.post("/ai/embed", json={"texts": ["x" * 40_000]}, headers=bob.headers).status_code == 413
        assert not first.done() and not second.done()
        model.gate.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
    assert model.most_at_once == 1  # model calls run one at a time, in the model's own thread


def test_embed_and_search_have_a_per_user_rate(gated_ai, make_user):
    server, model = gated_ai
    model.gate.set()
    user, other = make_user(), make_user()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        codes = [client.post("/ai/embed", json={"texts": ["same"]}, headers=user.headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = client.post("/ai/embed", json={"texts": ["same"]}, headers=user.headers)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "3 embed calls" in r.json()["detail"]
        # Another user's budget is their own; search has a budget of its own.
        assert client.post("/ai/embed", json={"texts": ["same"]}, headers=other.headers).status_code == 200
        codes = [client.post("/ai/search", json={"query": "q"}, headers=user.headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
