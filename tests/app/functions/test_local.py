"""The functions as `grid local` serves them: through the ASGI bridge and the load balancer's path routing."""

from __future__ import annotations

import logging
import socket

from flask import Flask

from app.functions.local import WsgiApp, public_apps
from grid.local import PathRouter
from stacks.workloads import bundled
from tests.app.common.test_errors import _exchange
from tests.app.conftest import ServerThread


class _Unused:
    """auth/api/ai stand-ins: these tests only reach the functions."""


def _without_lifespan(router: PathRouter):
    """The router's requests without its services' lifespans (the stand-ins have none)."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "lifespan":
            await router(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return app


def _failing_function() -> Flask:
    flask = Flask("failing")

    @flask.route("/fn/broken/<path:rest>", methods=["GET"])
    def broken(rest: str) -> str:
        raise RuntimeError("bug")

    # Flask would answer 500 itself; the bridge must also hold when the WSGI app raises out of itself.
    def wsgi(environ, start_response):
        if environ["PATH_INFO"].endswith("/raise"):
            raise RuntimeError("bug in the bridge's callee")
        return flask(environ, start_response)

    return wsgi


def test_non_public_function_paths_are_404_and_a_crash_is_one_500_on_a_live_connection(caplog):
    functions = {w.name for w in bundled("function")}
    assert set(public_apps(dict.fromkeys(functions, object()))) == functions
    # What is public is stacks/routes.py's to say (ml-analytics: /anomalies only), as on the load balancer.
    router = PathRouter({"auth": _Unused(), "api": _Unused(), "korean-nlp": WsgiApp(_failing_function())})
    server = ServerThread(_without_lifespan(router)).start()
    try:
        with caplog.at_level(logging.ERROR), socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            stream = sock.makefile("rb")
            ingest = _exchange(sock, stream, "/fn/ml-analytics/events")
            crashed = _exchange(sock, stream, "/fn/korean-nlp/raise")
            after = _exchange(sock, stream, "/fn/ml-analytics/report")  # the same keep-alive connection
    finally:
        server.stop()
    assert ingest.startswith(b"HTTP/1.1 404") and b'"not a public path"' in ingest
    assert crashed.startswith(b"HTTP/1.1 500") and b"bug" not in crashed
    assert after.startswith(b"HTTP/1.1 404")
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
