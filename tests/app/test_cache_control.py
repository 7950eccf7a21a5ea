"""Every route of auth, api and ai answers with an explicit, correct Cache-Control (app/common/caching.py), and the
load balancer's CDN fronts exactly the routes with something public to cache (stacks/routes.py).

The walk is over the apps' own route tables, so a route added later is checked without editing this file. Each
route is called on a live server with a real user's token: with real ids where the route has them (so reads
succeed) and with an empty body (so writes fail validation) — successes carry the route's policy, errors no-store.
The functions are checked in tests/app/functions/test_client_rate.py.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute

from app.common.caching import NO_STORE, PRIVATE, declared
from app.common.route_table import route_table
from stacks.routes import ROUTES, route_of
from tests.app.ai import conftest as ai_fixtures
from tests.app.fuzz import PUBLIC, expected_cache_control

# The ai service's session fixtures live in its own conftest; registered here under the same names.
ai_server, embedder, fake_provider = ai_fixtures.ai_server, ai_fixtures.embedder, ai_fixtures.fake_provider

SERVERS = ("auth", "api", "ai")


def _routes(app) -> list[tuple[str, str, object]]:
    out = []
    for route in route_table(app):  # through the included routers (app.routes alone holds only FastAPI's docs)
        if isinstance(route.original_route, APIWebSocketRoute) or not route.methods:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, route.endpoint))
    # The walk covers every documented operation of the service, so it cannot pass by walking nothing.
    documented = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert documented and documented <= {(m, path) for m, path, _ in out}, documented - {(m, p) for m, p, _ in out}
    # Deletes last, so the ids the other routes read still exist.
    return sorted(out, key=lambda r: r[0] == "DELETE")


@pytest.fixture(scope="module")
def servers(request, auth_server, api_server):
    return {"auth": auth_server, "api": api_server, "ai": request.getfixturevalue("ai_server")}


@pytest.fixture(scope="module")
def ids(make_user, api):
    owner = make_user()
    agent = api.post("/v1/agents", json={"name": "cache"}, headers=owner.headers).json()
    body = {"agent_id": agent["id"], "title": "cache"}
    conversation = api.post("/v1/conversations", json=body, headers=owner.headers).json()
    return owner, {"agent_id": agent["id"], "conversation_id": conversation["id"]}


def test_every_route_declares_the_policy_it_should(servers):
    for service, server in servers.items():
        for _, path, endpoint in _routes(server.server.config.app):
            assert declared(endpoint) == expected_cache_control(path, 200), (service, path)


@pytest.mark.parametrize("service", SERVERS)
def test_every_route_answers_with_an_explicit_correct_cache_control(servers, ids, service):
    owner, known = ids
    server = servers[service]
    seen = []
    with httpx.Client(base_url=server.url, timeout=30, headers=owner.headers) as client:
        for method, path, _ in _routes(server.server.config.app):
            url = re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), str(uuid.uuid4())), path)
            r = client.request(method, url, json={} if method in ("POST", "PUT", "PATCH") else None)
            values = r.headers.get_list("cache-control")
            want = expected_cache_control(path, r.status_code)
            assert values == [want], (method, path, r.status_code, values)
            seen.append((method, path, r.status_code))
    # The walk reached real successes, not only errors: every parameterless GET succeeds (one with a required
    # query parameter, such as ai's item search, is called without it and answers 422).
    operations = server.server.config.app.openapi()["paths"]
    for method, path, status in seen:
        parameters = operations.get(path, {}).get(method.lower(), {}).get("parameters", [])
        if any(p["in"] == "query" and p.get("required") for p in parameters):
            continue
        if method == "GET" and "{" not in path and not path.endswith("/ready"):
            assert status == 200, (method, path, status)


def test_a_read_of_a_users_own_data_is_private_and_errors_are_no_store(api, ids):
    owner, _ = ids
    # An agent of its own: the route walk above ends with the DELETE routes, which remove the shared one.
    agent = api.post("/v1/agents", json={"name": "private read"}, headers=owner.headers).json()["id"]
    r = api.get(f"/v1/agents/{agent}", headers=owner.headers)
    assert r.status_code == 200 and r.headers["cache-control"] == PRIVATE
    assert api.get(f"/v1/agents/{agent}").headers["cache-control"] == NO_STORE  # 401
    too_big = api.post("/v1/agents", content=b"x" * 2_000_000, headers=owner.headers)
    assert too_big.status_code == 413 and too_big.headers["cache-control"] == NO_STORE


def test_the_cdn_fronts_exactly_the_routes_with_public_responses():
    routes = [route_of(path) for path in PUBLIC]
    assert None not in routes  # every public response is reachable through the entry point
    assert {route.workload for route in ROUTES if route.cached} == {route.workload for route in routes if route}
