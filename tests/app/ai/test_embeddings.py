"""Embeddings with the real all-MiniLM-L6-v2: determinism, meaning, micro-batching, limits."""

from __future__ import annotations

import asyncio

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
