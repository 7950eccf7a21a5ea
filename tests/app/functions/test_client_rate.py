"""The unauthenticated functions' per-client rate (korean-nlp /analyze, ml-analytics /anomalies) and their caching
headers, through functions-framework's own apps as Cloud Functions serves them, behind the load balancer's hops."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from functions_framework import create_app

from app.common.caching import NO_STORE
from app.common.localrate import ClientRate

FUNCTIONS = Path(__file__).resolve().parents[3] / "app" / "functions"
ML_SOURCE = FUNCTIONS / "ml_analytics" / "main.py"
LIMIT = 3
LB = "10.0.0.1"  # the load balancer's own address, the last X-Forwarded-For entry behind it


def _from(client_ip: str, forged: str | None = None) -> dict[str, str]:
    """Headers as Google's load balancer forwards them: whatever the client sent, then `<client-ip>,<lb-ip>`."""
    chain = ", ".join(x for x in (forged, client_ip, LB) if x)
    return {"X-Forwarded-For": chain}


@pytest.fixture(scope="module")
def apps():
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUSTED_PROXY_HOPS", "2")
    mp.setenv("ANALYZE_REQUESTS_PER_MINUTE", str(LIMIT))
    mp.setenv("ANOMALIES_REQUESTS_PER_MINUTE", str(LIMIT))
    mp.delenv("DATABASE_URL", raising=False)  # /report answers 503 without storage: its headers are what count here
    # functions-framework executes the source anew for each app, so each reads the environment set here.
    nlp = create_app(target="korean_nlp", source=str(FUNCTIONS / "korean_nlp" / "main.py")).test_client()
    analytics = create_app(target="ml_analytics", source=str(ML_SOURCE)).test_client()
    yield {
        "korean-nlp": (nlp, "/fn/korean-nlp/analyze", {"text": "안녕하세요"}),
        "ml-analytics": (
            analytics,
            "/fn/ml-analytics/anomalies",
            {"series": [{"t": i, "value": v} for i, v in enumerate([1, 2, 1, 2, 50])]},
        ),
    }
    mp.undo()


@pytest.mark.parametrize("name", ["korean-nlp", "ml-analytics"])
def test_past_the_rate_a_client_gets_429_with_retry_after_and_the_error_shape(apps, name):
    client, path, body = apps[name]
    for _ in range(LIMIT):
        assert client.post(path, json=body, headers=_from("203.0.113.7")).status_code == 200
    r = client.post(path, json=body, headers=_from("203.0.113.7"))
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= ClientRate.WINDOW
    assert r.headers["Cache-Control"] == NO_STORE
    assert set(r.get_json()) == {"detail"} and f"more than {LIMIT}" in r.get_json()["detail"]
    # Malformed requests count too: the check comes before any parsing.
    assert client.post(path, data=b"{", headers=_from("203.0.113.7")).status_code == 429
    # Another client is unaffected.
    assert client.post(path, json=body, headers=_from("198.51.100.9")).status_code == 200


@pytest.mark.parametrize("name", ["korean-nlp", "ml-analytics"])
def test_the_client_cannot_pick_its_key_by_writing_x_forwarded_for(apps, name):
    client, path, body = apps[name]
    statuses = [
        client.post(path, json=body, headers=_from("203.0.113.50", forged=f"192.0.2.{i}")).status_code
        for i in range(LIMIT + 2)
    ]
    assert statuses == [200] * LIMIT + [429, 429]


def test_health_and_the_platform_routes_are_not_limited(apps):
    nlp, _, _ = apps["korean-nlp"]
    analytics, _, _ = apps["ml-analytics"]
    ignored = {"message": {"attributes": {"type": "other"}, "data": ""}}
    for _ in range(LIMIT + 2):
        assert nlp.get("/fn/korean-nlp/health", headers=_from("203.0.113.60")).status_code == 200
        # Pub/Sub push: a 429 would only make it redeliver.
        assert analytics.post("/fn/ml-analytics/events", json=ignored, headers=_from("203.0.113.60")).status_code == 200


WALK = [
    ("korean-nlp", "GET", "/fn/korean-nlp/health", 200),
    ("korean-nlp", "GET", "/", 200),
    ("korean-nlp", "POST", "/fn/korean-nlp/analyze", 200),
    ("korean-nlp", "POST", "/fn/korean-nlp/nope", 404),
    ("korean-nlp", "GET", "/fn/korean-nlp/analyze", 405),
    ("ml-analytics", "GET", "/fn/ml-analytics/health", 200),
    ("ml-analytics", "POST", "/fn/ml-analytics/anomalies", 200),
    ("ml-analytics", "POST", "/fn/ml-analytics/events", 200),
    ("ml-analytics", "POST", "/fn/ml-analytics/nope", 404),
    ("ml-analytics", "POST", "/fn/ml-analytics/report", 503),
    ("ml-analytics", "GET", "/fn/ml-analytics/anomalies", 405),
]


def test_the_walk_covers_every_route_of_the_functions(apps):
    analytics = next(m for m in sys.modules.values() if getattr(m, "__file__", "") == str(ML_SOURCE))
    walked = {path for _, _, path, _ in WALK}
    assert {f"{analytics.PREFIX}{route}" for route in analytics.ROUTES} <= walked
    assert {"/fn/korean-nlp/analyze", "/fn/korean-nlp/health"} <= walked


@pytest.mark.parametrize(("name", "method", "path", "status"), WALK)
def test_every_function_response_says_no_store(apps, name, method, path, status):
    client, _, body = apps[name]
    if path.endswith("/events"):
        body = {"message": {"attributes": {"type": "other"}, "data": ""}}
    ip = f"198.18.{len(path)}.{status % 256}"
    r = client.open(path, method=method, json=body if method == "POST" else None, headers=_from(ip))
    assert r.status_code == status
    assert r.headers["Cache-Control"] == NO_STORE
    if status == 405:
        assert r.headers["Allow"] == "POST"


def test_a_bad_limit_fails_at_start_with_one_clear_line(monkeypatch):
    monkeypatch.setenv("ANALYZE_REQUESTS_PER_MINUTE", "lots")
    with pytest.raises(ValueError, match=r"ANALYZE_REQUESTS_PER_MINUTE must be an integer >= 1 \(got 'lots'\)"):
        ClientRate.from_env("ANALYZE_REQUESTS_PER_MINUTE", 60)
