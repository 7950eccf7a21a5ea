"""Errors reach clients as small JSON documents without internals."""

from __future__ import annotations

import logging
import socket

import psycopg
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from app.common.errors import ErrorBody, install_error_handlers
from app.common.middleware import RequestContextMiddleware
from app.common.schemas import RequestBody


class Item(BaseModel):
    name: str


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


def test_undecodable_bodies_and_validation_errors_share_the_error_shape():
    app = _app()

    @app.post("/items")
    async def items(body: Item) -> dict:
        return {}

    with TestClient(app) as client:
        bad_utf8 = client.post("/items", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
        invalid = client.post("/items", json={"name": 3})
        not_json = client.post("/items", content=b"{", headers={"content-type": "application/json"})
    for r in (bad_utf8, invalid, not_json):
        assert r.status_code in (400, 422)
        ErrorBody.model_validate_json(r.content)
        assert isinstance(r.json()["detail"], str)
    assert invalid.status_code == 422
    assert invalid.json()["detail"] == "body.name: Input should be a valid string"
    assert invalid.json()["errors"][0]["loc"] == ["body", "name"]


def test_405_allow_lists_every_method_of_the_path():
    app = _app()

    @app.get("/things/{tid}")
    async def get_thing(tid: int) -> dict:
        return {}

    @app.delete("/things/{tid}")
    async def delete_thing(tid: int) -> None:
        return None

    with TestClient(app) as client:
        r = client.put("/things/1")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "DELETE"}
    ErrorBody.model_validate_json(r.content)


def test_405_allow_lists_the_methods_of_a_path_served_by_an_included_router():
    # The services declare every route on an APIRouter the app includes; FastAPI 0.165 keeps those behind one
    # entry of app.routes, so a walk of app.routes alone found no methods and every 405 said "Allow: ".
    app = _app()
    router = APIRouter(prefix="/v1")

    @router.get("/things/{tid}")
    async def get_thing(tid: int) -> dict:
        return {}

    @router.delete("/things/{tid}")
    async def delete_thing(tid: int) -> None:
        return None

    app.include_router(router)
    with TestClient(app) as client:
        r = client.put("/v1/things/1")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "DELETE"}


def test_strings_that_are_not_text_are_refused_wherever_they_are_nested():
    class Nested(RequestBody):
        texts: list[str]
        labels: dict[str, str] = {}

    for bad in ({"texts": ["ok", "\ud800"]}, {"texts": ["a\x00b"]}, {"texts": [], "labels": {"\udfff": "x"}}):
        with pytest.raises(ValidationError):
            Nested.model_validate(bad)
    assert Nested.model_validate({"texts": ["한국어 😀"]}).texts == ["한국어 😀"]


def test_after_a_500_the_keep_alive_connection_serves_the_next_request_and_the_error_is_logged_once(caplog):
    from tests.app.conftest import ServerThread

    app = _app()

    @app.get("/ok")
    async def ok() -> dict:
        return {"ok": True}

    server = ServerThread(app).start()
    try:
        with caplog.at_level(logging.ERROR), socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            stream = sock.makefile("rb")
            first = _exchange(sock, stream, "/boom")
            second = _exchange(sock, stream, "/ok")  # the same connection
    finally:
        server.stop()
    assert first.startswith(b"HTTP/1.1 500")
    assert second.startswith(b"HTTP/1.1 200") and second.endswith(b'{"ok":true}')
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]


def _exchange(sock: socket.socket, stream, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return head  # closed by the server
        head += line
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
    return head + stream.read(length)
