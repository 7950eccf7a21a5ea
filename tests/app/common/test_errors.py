"""Errors reach clients as small JSON documents without internals."""

from __future__ import annotations

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.common.errors import install_error_handlers
from app.common.middleware import RequestContextMiddleware


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=1000, access_log=True)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail: password=hunter2 at /srv/app/x.py line 3")

    @app.get("/db")
    async def db() -> None:
        raise psycopg.OperationalError("connection to server at 10.0.0.5 failed: FATAL role grid_app")

    return app


def test_unhandled_errors_are_a_generic_500_with_request_id():
    with TestClient(_app(), raise_server_exceptions=False) as client:
        r = client.get("/boom", headers={"X-Request-ID": "trace-me"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error", "request_id": "trace-me"}
    assert "hunter2" not in r.text and "Traceback" not in r.text


def test_database_outages_are_503_without_details():
    with TestClient(_app(), raise_server_exceptions=False) as client:
        r = client.get("/db")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert r.json()["detail"] == "service temporarily unavailable"
    assert "10.0.0.5" not in r.text and "grid_app" not in r.text


def test_unknown_paths_and_methods_are_json():
    with TestClient(_app()) as client:
        assert client.get("/nope").json()["detail"] == "Not Found"
        assert client.post("/boom").status_code == 405
