"""korean-nlp through functions-framework's own app (the same Flask app Cloud Functions serves), real Kiwi model."""

from __future__ import annotations

from pathlib import Path

import pytest
from functions_framework import create_app

SOURCE = Path(__file__).resolve().parents[3] / "app" / "functions" / "korean_nlp" / "main.py"
ANALYZE = "/fn/korean-nlp/analyze"


@pytest.fixture(scope="module")
def client():
    return create_app(target="korean_nlp", source=str(SOURCE)).test_client()


def test_morphology_of_a_real_sentence(client):
    text = "아버지가 방에 들어가신다."
    r = client.post(ANALYZE, json={"text": text})
    assert r.status_code == 200
    body = r.get_json()
    tokens = body["tokens"]
    assert [(t["form"], t["tag"]) for t in tokens[:4]] == [
        ("아버지", "NNG"),
        ("가", "JKS"),
        ("방", "NNG"),
        ("에", "JKB"),
    ]
    # Offsets index the original text, so clients can highlight tokens.
    for t in tokens:
        if t["tag"].startswith("NN"):
            assert text[t["start"] : t["start"] + t["len"]] == t["form"]
    assert body["nouns"] == ["아버지", "방"]
    assert body["sentences"] == ["아버지가 방에 들어가신다."]


def test_sentences_nouns_and_keywords(client):
    # Sentence splitting works without punctuation too; keywords are the most frequent multi-syllable nouns.
    text = "서울은 한국의 수도입니다 서울에는 많은 사람이 삽니다. 부산은 항구 도시입니다. 서울 지하철은 편리합니다."
    body = client.post(ANALYZE, json={"text": text}).get_json()
    assert len(body["sentences"]) == 4
    assert {"서울", "한국", "수도", "부산", "항구", "도시", "지하철"} <= set(body["nouns"])
    assert body["keywords"][0] == {"word": "서울", "count": 3}


def test_works_without_the_load_balancer_prefix(client):
    r = client.post("/analyze", json={"text": "고양이가 좋아요"})
    assert r.status_code == 200 and r.get_json()["nouns"] == ["고양이"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": ""}, 422),
        ({"text": "   "}, 422),
        ({"text": 42}, 422),
        ({}, 422),
        (["text"], 422),
        ({"text": "가" * 20_001}, 413),
    ],
)
def test_input_limits_are_clear_json_errors(client, body, status):
    r = client.post(ANALYZE, json=body)
    assert r.status_code == status
    assert set(r.get_json()) == {"detail"}


def test_oversized_and_malformed_bodies(client):
    r = client.post(ANALYZE, data=b"x" * (300 * 1024), content_type="application/json")
    assert r.status_code == 413
    r = client.post(ANALYZE, data=b"{not json", content_type="application/json")
    assert r.status_code == 422 and r.get_json() == {"detail": "body must be JSON"}


@pytest.mark.parametrize(
    "raw",
    [b'{"text": "\\ud800 lone surrogate"}', b'{"text": "' + b"\\udfff" + b'"}', b"[" * 100_000 + b"]" * 100_000],
    ids=["lone-high-surrogate", "lone-low-surrogate", "deep-nesting"],
)
def test_text_that_is_not_unicode_and_deep_nesting_are_422(client, raw):
    r = client.post(ANALYZE, data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert set(r.get_json()) == {"detail"}


def test_unknown_route_and_method(client):
    assert client.post("/fn/korean-nlp/nope", json={}).status_code == 404
    assert client.get(ANALYZE).status_code == 405
    assert client.get("/fn/korean-nlp/health").get_json() == {"status": "ok"}


def test_failures_never_leak_internals(client, monkeypatch):
    from kiwipiepy import Kiwi

    secret = "/srv/secret/path/model.bin: corrupted"

    def broken(self, text, *args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(Kiwi, "tokenize", broken)
    r = client.post(ANALYZE, json={"text": "안녕하세요"})
    assert r.status_code == 500
    assert r.get_json() == {"detail": "analysis failed"}
    assert secret not in r.get_data(as_text=True)
