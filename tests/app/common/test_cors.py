"""CORS_ALLOWED_ORIGINS: the service answers preflights (API Gateway passes them through) for those origins only."""

from __future__ import annotations

import asyncio

import httpx

from app.api.main import create_app
from app.api.settings import ApiSettings

ORIGIN = "https://app.example.com"


def _preflight(origins: list[str], origin: str) -> httpx.Response:
    settings = ApiSettings(
        DATABASE_URL="postgresql://u:p@127.0.0.1:1/db",
        JWKS_URL="http://127.0.0.1:1/auth/.well-known/jwks.json",
        EVENTS_BACKEND="none",
        CORS_ALLOWED_ORIGINS=origins,
    )
    app = create_app(settings, configure_logs=False)  # no lifespan: the middleware answers before any route

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            headers = {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, x-api-key, idempotency-key",
            }
            return await client.options("/v1/conversations/c1/messages", headers=headers)

    return asyncio.run(go())


def test_a_configured_origin_gets_its_preflight_answered() -> None:
    r = _preflight([ORIGIN], ORIGIN)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers  # bearer tokens, never cookies


def test_other_origins_and_an_unconfigured_service_get_no_grant() -> None:
    refused = _preflight([ORIGIN], "https://evil.example")
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    unconfigured = _preflight([], ORIGIN)
    assert "access-control-allow-origin" not in unconfigured.headers
