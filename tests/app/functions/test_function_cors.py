"""The functions answer browsers from CORS_ALLOWED_ORIGINS (API Gateway passes preflights through to them)."""

from __future__ import annotations

import json
from pathlib import Path

from functions_framework import create_app

SOURCE = Path(__file__).resolve().parents[3] / "app" / "functions" / "ml_analytics" / "main.py"
ORIGIN = "http://localhost:5173"
ASKED = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
         "Access-Control-Request-Headers": "authorization, content-type, x-api-key"}  # fmt: skip


def _client(monkeypatch, origins: list[str]):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", json.dumps(origins))
    return create_app(target="ml_analytics", source=str(SOURCE)).test_client()  # reads the origins at import


def test_a_configured_origin_is_answered_and_others_are_not(monkeypatch):
    client = _client(monkeypatch, [ORIGIN])
    preflight = client.options("/fn/ml-analytics/anomalies", headers=ASKED)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    answer = client.post("/fn/ml-analytics/anomalies", json={"series": []}, headers={"Origin": ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    foreign = client.options("/fn/ml-analytics/anomalies", headers={**ASKED, "Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_without_origins_nothing_is_granted(monkeypatch):
    client = _client(monkeypatch, [])
    assert "Access-Control-Allow-Origin" not in client.options("/fn/ml-analytics/anomalies", headers=ASKED).headers
