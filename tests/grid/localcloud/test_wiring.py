"""The local cloud's reading of the plan and its emulated Google rules, without starting any workload."""

from __future__ import annotations

import asyncio
import json
from functools import partial

import httpx
import pytest

from grid.engine import run_program
from grid.localcloud.cloud import LocalCloud
from grid.localcloud.entry import Armor, GatewayEntry, LoadBalancerEntry
from grid.localcloud.frontdoor import FrontDoor
from grid.localcloud.identity import Issuer, metadata_app
from grid.localcloud.pki import LocalPki
from grid.localcloud.proxy import Forwarder
from grid.localcloud.pubsub import PubSub
from grid.localcloud.topology import ArmorRule, Subscription, read_topology
from grid.plan import project_root, project_spec
from grid.stackfile import read_stack_file


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return LocalPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def topologies(pki):
    root = project_root(project_spec())
    return {
        stack: read_topology(
            run_program(read_stack_file(root, stack), cloud=partial(LocalCloud, ca_pem=pki.ca_pem), reveal=True)
        )
        for stack in ("dev", "prod")
    }


def test_every_workload_the_plan_creates_is_read_with_its_own_name(topologies):
    for topology in topologies.values():
        assert {"auth", "api", "ai", "korean-nlp", "ml-analytics", "migrations"} <= set(topology.workloads)
        assert topology.workloads["migrations"].kind == "job"
        assert topology.workloads["korean-nlp"].kind == "function"
        assert topology.workloads["api"].command == ["python", "-m", "app.common.serve", "app.api.main:create_app"]


def test_a_scheduled_job_of_the_stack_file_runs_its_image_cmd_when_its_schedule_fires(topologies):
    """The scraper (grid:jobs.scraper) has no command of its own: the local cloud runs its Dockerfile's CMD, and
    only when its Cloud Scheduler job is triggered (runner.py skips scheduled jobs at startup)."""
    from grid.localcloud.topology import run_job_target

    dev = topologies["dev"]
    scraper = dev.workloads["scraper"]
    assert scraper.kind == "job" and scraper.command == ["python", "-m", "jobs.scraper.scraper"]
    targets = {run_job_target(job.uri) for job in dev.scheduler.values()}
    assert scraper.resource_name in targets and "grid-dev-migrate" not in targets


def test_generated_values_are_real_and_fresh(topologies):
    dev = topologies["dev"]
    assert dev.database is not None and dev.database.tls_required
    assert dev.database.password in dev.secrets["grid-dev-database-url"]
    assert "offline" not in dev.database.password
    assert dev.secrets["grid-dev-jwt-signing-key"].startswith("-----BEGIN PRIVATE KEY-----")
    from cryptography.hazmat.primitives import serialization

    serialization.load_pem_private_key(dev.secrets["grid-dev-jwt-signing-key"].encode(), password=None)


def test_memorystore_auth_and_tls_follow_the_plan(topologies, pki):
    assert topologies["dev"].cache is None
    prod = topologies["prod"].cache
    assert prod is not None and prod.auth and prod.tls and prod.password
    assert f":{prod.password}@" in topologies["prod"].secrets["grid-prod-redis-url"]


def test_entry_points_come_from_the_plan(topologies):
    assert type(topologies["dev"].entry).__name__ == "ApiGateway"
    lb = topologies["prod"].entry
    assert type(lb).__name__ == "LoadBalancer" and lb.domains[0] == "api.acme.example"
    entry = LoadBalancerEntry(lb, {}, {}, Forwarder())
    assert entry.route("api.acme.example", "/auth/login") == "auth"
    assert entry.route("api.acme.example", "/fn/korean-nlp/analyze") == "korean-nlp"
    assert entry.route("api.acme.example", "/v1/agents") == "api"
    assert entry.route("api.acme.example", "/authx") == "api"


def test_public_only_where_anonymous_internet_traffic_gets_in(topologies):
    # dev: only the gateway may invoke; staging/prod: anyone (invoker check off, allUsers on functions), but
    # ingress admits the load balancer only.
    for topology in topologies.values():
        assert not any(w.public for w in topology.workloads.values())


def _door(workload, issuer):
    return FrontDoor(workload, issuer, Forwarder())


def test_cloud_run_iam_and_ingress_decisions(topologies, pki):
    issuer = Issuer(pki.issuer_key)
    dev = topologies["dev"]
    auth = _door(dev.workloads["auth"], issuer)
    aud = dev.workloads["auth"].urls[0]
    api_sa = dev.workloads["api"].service_account
    assert auth.decide("internet", None)[0] == 401
    assert auth.decide("internet", f"Bearer {issuer.id_token(api_sa, 'https://elsewhere.a.run.app')}")[0] == 401
    stranger = dev.workloads["korean-nlp"].service_account
    assert auth.decide("internet", f"Bearer {issuer.id_token(stranger, aud)}")[0] == 403
    assert auth.decide("vpc", f"Bearer {issuer.id_token(api_sa, aud)}") is None
    forged = Issuer(LocalPki(pki.directory / "other").issuer_key)
    assert auth.decide("internet", f"Bearer {forged.id_token(api_sa, aud)}")[0] == 401
    api = _door(topologies["prod"].workloads["api"], issuer)
    assert api.decide("internet", None)[0] == 404  # internal-and-cloud-load-balancing
    assert api.decide("lb", None) is None  # the invoker check is off behind the load balancer
    cost_cap = _door(dev.workloads["cost-cap"], issuer)
    assert cost_cap.decide("lb", None)[0] == 404


def test_armor_rate_based_ban():
    armor = Armor([ArmorRule(2000, "rate_based_ban", ["*"], (3, 60, 600)), ArmorRule(2147483647, "allow", ["*"])])
    assert [armor.decide("203.0.113.9") for _ in range(4)] == [None, None, None, 429]
    assert armor.decide("203.0.113.10") is None
    assert Armor([ArmorRule(100, "deny(403)", ["203.0.113.0/24"])]).decide("203.0.113.7") == 403


def test_metadata_server_issues_tokens_for_its_own_identity(pki):
    issuer = Issuer(pki.issuer_key)
    from starlette.testclient import TestClient

    with TestClient(metadata_app(issuer, "me@p.iam.gserviceaccount.com", "p")) as c:
        path = "/computeMetadata/v1/instance/service-accounts/default/identity"
        assert c.get(path, params={"audience": "https://x"}).status_code == 403  # no Metadata-Flavor
        token = c.get(path, params={"audience": "https://x"}, headers={"Metadata-Flavor": "Google"}).text
    caller = issuer.verify(token, {"https://x"})
    assert caller.email == "me@p.iam.gserviceaccount.com"


def test_google_auth_fetches_an_id_token_through_the_metadata_server(pki):
    """google-auth's own Compute Engine path, pointed at the local metadata server by GCE_METADATA_HOST."""
    import os
    import subprocess
    import sys
    import threading

    import uvicorn

    from grid.local import free_port

    issuer = Issuer(pki.issuer_key)
    port = free_port()
    app = metadata_app(issuer, "api@p.iam.gserviceaccount.com", "p")
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    fetch = (
        "import google.auth.transport.requests as r, google.oauth2.id_token as t;"
        "print(t.fetch_id_token(r.Request(), 'https://svc.a.run.app'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update({"GCE_METADATA_HOST": f"127.0.0.1:{port}", "GCE_METADATA_IP": f"127.0.0.1:{port}"})
    try:
        token = subprocess.run(
            [sys.executable, "-c", fetch], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
    finally:
        server.should_exit = True
        thread.join(5)
    assert issuer.verify(token, {"https://svc.a.run.app"}).email == "api@p.iam.gserviceaccount.com"


def _subscription(**overrides):
    spec = dict(
        name="projects/p/subscriptions/push",
        topic="projects/p/topics/t",
        ack_deadline=60,
        push_endpoint="https://fn/events",
        push_identity="invoker@p.iam.gserviceaccount.com",
        push_audience="https://fn",
        dead_letter_topic="projects/p/topics/dead",
        max_attempts=3,
        min_backoff=10.0,
        max_backoff=600.0,
        subscribers=set(),
    )
    return Subscription(**{**spec, **overrides})


def test_push_retries_then_dead_letters_after_max_attempts():
    dead = Subscription(
        name="projects/p/subscriptions/dead-inspect", topic="projects/p/topics/dead", ack_deadline=60,
        push_endpoint=None, push_identity=None, push_audience=None, dead_letter_topic=None, max_attempts=None,
        min_backoff=10, max_backoff=600, subscribers={"serviceAccount:ops@p"},
    )  # fmt: skip
    attempts: list[dict] = []

    async def refuse(sub, envelope):
        attempts.append(envelope)
        return 500

    async def scenario():
        pubsub = PubSub(
            {"projects/p/topics/t": {"serviceAccount:api@p"}, "projects/p/topics/dead": set()},
            {s.name: s for s in (_subscription(), dead)},
            refuse,
            retry_scale=0.001,
        )
        pubsub.start()
        try:
            with pytest.raises(Exception, match="may not publish"):
                pubsub.publish("projects/p/topics/t", [{"data": "e30="}], "serviceAccount:stranger@p")
            pubsub.publish("projects/p/topics/t", [{"data": "e30="}], "serviceAccount:api@p")
            received = await pubsub.pull(dead.name, 10, "serviceAccount:ops@p", wait=10)
        finally:
            await pubsub.stop()
        return received

    received = asyncio.run(scenario())
    assert [a["deliveryAttempt"] for a in attempts] == [1, 2, 3]
    assert len(received) == 1 and received[0]["message"]["data"] == "e30="


def test_gateway_moves_the_callers_authorization_and_calls_with_its_own_id_token(topologies, pki):
    issuer = Issuer(pki.issuer_key)
    dev = topologies["dev"]
    seen: dict = {}

    async def backend(scope, receive, send):
        seen.update({k.decode(): v.decode() for k, v in scope["headers"]})
        seen["path"] = scope["path"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    class InProcess(Forwarder):
        async def forward(self, scope, receive, send, upstream, headers):
            seen["upstream"] = upstream
            await backend({**scope, "headers": list(headers)}, receive, send)

    gateway = GatewayEntry(dev.entry, issuer, lambda url: url, InProcess())

    async def call(path, **kw):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as c:
            return await c.get(path, **kw)

    assert asyncio.run(call("/nowhere")).status_code == 404
    # ml-analytics' ingest and report are not in the OpenAPI document: only Pub/Sub push and Scheduler call them.
    assert asyncio.run(call("/fn/ml-analytics/events")).status_code == 404
    assert asyncio.run(call("/fn/ml-analytics/report")).status_code == 404
    assert asyncio.run(call("/v1/agents", headers={"Authorization": "Bearer user-token"})).status_code == 200
    assert seen["x-forwarded-authorization"] == "Bearer user-token"
    assert seen["upstream"] == dev.workloads["api"].urls[0] and seen["path"] == "/v1/agents"
    caller = issuer.verify(seen["authorization"].split()[1], {dev.workloads["api"].urls[0]})
    assert caller.email == dev.entry.service_account
    assert json.loads(json.dumps(dev.entry.openapi))["swagger"] == "2.0"
