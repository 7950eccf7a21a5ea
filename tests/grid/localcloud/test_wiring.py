"""The local cloud's reading of the plan and its emulated Google rules, without starting any workload."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from functools import partial
from types import SimpleNamespace

import httpx
import jwt
import pytest

from app.auth.keys import generate_pem, signing_key_from_pem
from grid.engine import run_program
from grid.localcloud.cloud import LocalCloud
from grid.localcloud.entry import JWKS_CACHE_SECONDS, ApiKeys, Armor, GatewayEntry, LoadBalancerEntry
from grid.localcloud.frontdoor import FrontDoor
from grid.localcloud.identity import Issuer, metadata_app
from grid.localcloud.pki import LocalPki
from grid.localcloud.proxy import Forwarder
from grid.localcloud.pubsub import PubSub
from grid.localcloud.topology import ArmorRule, Subscription, read_topology
from grid.plan import project_root, project_spec
from grid.stackfile import read_stack_file
from stacks.serving import JWKS_PATH


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


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _user_token(key, issuer: str, audience: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": audience, "sub": "u1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key.private_key, algorithm="ES256", headers={"kid": key.kid})


@pytest.fixture
def dev_gateway(topologies, pki):
    """dev's API Gateway in-process, its backends one recording app; auth's JWKS path serves a test key's."""
    issuer = Issuer(pki.issuer_key)
    dev = topologies["dev"]
    user_key = signing_key_from_pem(generate_pem())
    seen: dict = {"jwks_fetches": 0}

    async def backend(scope, receive, send):
        seen.update({k.decode(): v.decode() for k, v in scope["headers"]})
        seen["path"] = scope["path"]
        body = b"{}"
        if scope["path"] == JWKS_PATH:
            seen["jwks_fetches"] += 1
            body = json.dumps({"keys": [user_key.public_jwk]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    class InProcess(Forwarder):
        async def forward(self, scope, receive, send, upstream, headers):
            seen["upstream"] = upstream
            await backend({**scope, "headers": list(headers)}, receive, send)

    keys, clock = ApiKeys(), _Clock()
    gateway = GatewayEntry(dev.entry, issuer, lambda url: url, InProcess(), keys, clock)
    auth_env = dev.workloads["auth"].env
    token = _user_token(user_key, auth_env["JWT_ISSUER"], auth_env["JWT_AUDIENCE"])

    def calls(count, path, method="GET", **kw):
        async def go():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as c:
                return [await c.request(method, path, **kw) for _ in range(count)]

        return asyncio.run(go())

    def call(path, method="GET", **kw):
        return calls(1, path, method, **kw)[0]

    return SimpleNamespace(
        dev=dev, issuer=issuer, call=call, calls=calls, seen=seen, keys=keys, clock=clock, token=token, user_key=user_key,
        auth_env=auth_env, key=keys.create(dev.project),
    )  # fmt: skip


def test_gateway_moves_the_callers_authorization_and_calls_with_its_own_id_token(dev_gateway):
    g, dev = dev_gateway, dev_gateway.dev
    assert g.call("/nowhere").status_code == 404
    # ml-analytics' ingest and report are not in the OpenAPI document: only Pub/Sub push and Scheduler call them.
    assert g.call("/fn/ml-analytics/events").status_code == 404
    assert g.call("/fn/ml-analytics/report").status_code == 404
    user = f"Bearer {g.token}"
    assert g.call("/v1/agents", headers={"Authorization": user, "x-api-key": g.key}).status_code == 200
    assert g.seen["x-forwarded-authorization"] == user
    assert g.seen["upstream"] == dev.workloads["api"].urls[0] and g.seen["path"] == "/v1/agents"
    caller = g.issuer.verify(g.seen["authorization"].split()[1], {dev.workloads["api"].urls[0]})
    assert caller.email == dev.entry.service_account
    assert json.loads(json.dumps(dev.entry.openapi))["swagger"] == "2.0"


def test_cloud_sql_hands_the_services_its_ca_and_they_verify_it(topologies, pki):
    dev = topologies["dev"]
    assert "sslmode=verify-ca" in dev.secrets["grid-dev-database-url"]
    for name in ("auth", "api", "ai", "migrations", "ml-analytics"):
        assert dev.workloads[name].env["DATABASE_CA_CERT"] == pki.ca_pem, name
    assert dev.database.server_name == "acme-grid-dev:" + dev.database.server_name.split(":", 1)[1]


def test_a_stack_with_external_stores_names_the_secrets_their_stand_ins_fill(pki):
    """dev-external keeps Postgres and Redis outside Google Cloud: the local cloud stands in for both (the journey
    tests run it) and fills the URL secrets the plan names, which hold the stack's own, undecryptable values."""
    root = project_root(project_spec())
    run = run_program(read_stack_file(root, "dev-external"), cloud=partial(LocalCloud, ca_pem=pki.ca_pem), reveal=True)
    topology = read_topology(run)
    assert topology.external == {"postgres": "grid-dev-external-database-url", "redis": "grid-dev-external-redis-url"}
    assert topology.database is None and topology.cache is None
    readers = {
        name for name, w in topology.workloads.items() if "grid-dev-external-database-url" in w.secret_env.values()
    }
    assert {"auth", "api", "ai", "migrations"} <= readers


def test_gateway_checks_the_users_jwt_before_the_api_key(dev_gateway):
    g = dev_gateway
    other = signing_key_from_pem(generate_pem())
    forged = _user_token(other, g.auth_env["JWT_ISSUER"], g.auth_env["JWT_AUDIENCE"])
    wrong_issuer = _user_token(g.user_key, "someone-else", g.auth_env["JWT_AUDIENCE"])
    wrong_audience = _user_token(g.user_key, g.auth_env["JWT_ISSUER"], "another-api")
    expired = _user_token(g.user_key, g.auth_env["JWT_ISSUER"], g.auth_env["JWT_AUDIENCE"], exp=int(time.time()) - 60)
    cases = [
        ({}, 401, "Jwt is missing"),
        ({"Authorization": "Bearer not-a-jwt"}, 401, ""),
        ({"Authorization": f"Bearer {forged}"}, 401, "kid"),
        ({"Authorization": f"Bearer {wrong_issuer}"}, 401, "issuer"),
        ({"Authorization": f"Bearer {wrong_audience}"}, 401, "Audiences"),
        ({"Authorization": f"Bearer {expired}"}, 401, "expired"),
    ]
    for headers, status, message in cases:
        r = g.call("/ai/search", "POST", headers={**headers, "x-api-key": g.key})
        assert (r.status_code, message in r.text) == (status, True), (headers, r.text)
    assert g.seen.get("path") == JWKS_PATH  # nothing reached a service but the key fetch
    good = {"Authorization": f"Bearer {g.token}"}
    assert g.call("/ai/search", "POST", headers=good).status_code == 401  # then the API key: missing
    assert g.call("/ai/search", "POST", headers={**good, "x-api-key": "AIza-unknown"}).status_code == 400
    r = g.call("/ai/search", "POST", headers={**good, "x-api-key": g.key})
    assert r.status_code == 200 and g.seen["path"] == "/ai/search"
    claims = json.loads(base64.urlsafe_b64decode(g.seen["x-apigateway-api-userinfo"] + "=="))
    assert claims["sub"] == "u1"
    assert g.seen["jwks_fetches"] == 1  # fetched once, through the keys gateway, and cached
    g.clock.now += JWKS_CACHE_SECONDS
    assert g.call("/ai/search", "POST", headers={**good, "x-api-key": g.key}).status_code == 200
    assert g.seen["jwks_fetches"] == 2


def test_gateway_opens_only_probes_preflights_and_auths_routes(dev_gateway):
    g = dev_gateway
    for path in ("/health", "/ready", "/auth/health", "/ai/ready"):
        assert g.call(path).status_code == 200, path  # uptime checks: no token, no key
    assert g.call("/auth/login", "POST").status_code == 401  # auth's routes need the key only
    assert g.call("/auth/login", "POST", headers={"x-api-key": g.key}).status_code == 200
    preflight = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    assert g.call("/v1/agents", "OPTIONS", headers=preflight).status_code == 200
    assert g.seen["path"] == "/v1/agents" and "x-forwarded-authorization" not in g.seen


def test_gateway_meters_each_consumer_project_per_minute(dev_gateway):
    g = dev_gateway
    [limit] = g.dev.entry.openapi["x-google-management"]["quota"]["limits"]
    allowed = limit["values"]["STANDARD"]
    other = g.keys.create("another-consumer")
    login = partial(g.call, "/auth/login", "POST")
    assert {r.status_code for r in g.calls(allowed, "/auth/login", "POST", headers={"x-api-key": g.key})} == {200}
    refused = login(headers={"x-api-key": g.key})
    assert refused.status_code == 429 and "RESOURCE_EXHAUSTED" in refused.text
    assert login(headers={"x-api-key": other}).status_code == 200  # another consumer has its own allowance
    assert g.call("/health").status_code == 200  # probes are not metered
    g.clock.now += 60
    assert login(headers={"x-api-key": g.key}).status_code == 200


def test_the_ai_task_queue_and_its_grants_come_from_the_plan(topologies):
    """The queue's retryConfig/rateLimits reach the emulator; only ai may enqueue and act as the invoker that signs
    the tasks' tokens; the invoker may call ai; ai is told the queue, its own task URL and the token's audience."""
    from app.ai.tasks import REINDEX_PATH
    from stacks.config import TasksConfig

    defaults = TasksConfig()
    for topology in topologies.values():
        [queue] = topology.task_queues.values()
        assert (queue.max_attempts, queue.max_dispatches_per_second, queue.max_concurrent_dispatches) == (
            defaults.max_attempts,
            defaults.max_dispatches_per_second,
            defaults.max_concurrent_dispatches,
        )
        assert queue.min_backoff <= queue.max_backoff
        ai = topology.workloads["ai"]
        assert queue.enqueuers == {f"serviceAccount:{ai.service_account}"}
        env = ai.env
        assert env["TASKS_QUEUE"] == queue.name
        assert env["TASKS_TARGET_URL"].endswith(REINDEX_PATH)
        invoker = env["TASKS_INVOKER"]
        acting = topology.act_as[invoker]  # ai, and the deployers, who act as every workload account
        assert f"serviceAccount:{ai.service_account}" in acting
        assert f"serviceAccount:{topology.workloads['api'].service_account}" not in acting
        assert f"serviceAccount:{invoker}" in ai.invokers
        assert env["TASKS_AUDIENCE"] in ai.custom_audiences
        assert env["METRICS_EXPORT"] == "true"


def test_a_task_url_the_app_was_given_locally_is_dispatched_to_the_plans_url(tmp_path):
    """ai is told its task URL translated to a local listener; Cloud Tasks calls it by the plan's URL (the door)."""
    from grid.localcloud.runner import LocalCloudRunner

    runner = LocalCloudRunner("dev", 0, tmp_path)
    runner.addresses = [("https://grid-dev-ai-1.run.app", "http://127.0.0.1:4000")]
    plan_url = "https://grid-dev-ai-1.run.app/ai/tasks/reindex"
    assert runner.plan_address(runner.translate(plan_url)) == plan_url
    assert runner.plan_address("http://127.0.0.1:40001/ai/tasks/reindex") == "http://127.0.0.1:40001/ai/tasks/reindex"


def test_local_monitoring_takes_app_metrics_only_from_the_plans_writers_as_its_descriptors_say(topologies):
    """The plan grants roles/monitoring.metricWriter to the services that export and declares the metrics' kinds:
    the local Monitoring API refuses another writer (403) and a write that disagrees with a descriptor (400)."""
    from datetime import UTC, datetime, timedelta

    from grid.localcloud.monitoring import CloudMonitoring

    dev = topologies["dev"]
    writers = {m.removeprefix("serviceAccount:").split("@")[0] for m in dev.metric_writers}
    assert writers == {"grid-dev-auth", "grid-dev-api", "grid-dev-ai"}
    latency = "custom.googleapis.com/grid/http/server/latencies"
    assert dev.metric_descriptors[latency]["metricKind"] == "CUMULATIVE"
    assert dev.metric_descriptors[latency]["valueType"] == "DISTRIBUTION"

    api = next(m for m in dev.metric_writers if "grid-dev-api@" in m)
    end = datetime.now(UTC)
    series = {
        "metric": {"type": latency, "labels": {"route": "/v1/agents"}},
        "resource": {"type": "generic_task", "labels": dict.fromkeys(("location", "namespace", "job", "task_id"), "x")},
        "metricKind": "CUMULATIVE",
        "points": [
            {
                "interval": {"startTime": (end - timedelta(minutes=1)).isoformat(), "endTime": end.isoformat()},
                "value": {"int64Value": "3"},  # an INT64 where the plan declares a DISTRIBUTION
            }
        ],
    }
    monitoring = CloudMonitoring.declared(dev.metric_descriptors, dev.metric_writers)
    status, body = monitoring.create(dev.project, {"timeSeries": [series]}, "serviceAccount:grid-dev-korean-nlp@x")
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    status, body = monitoring.create(dev.project, {"timeSeries": [series]}, api)
    assert status == 400 and "is a CUMULATIVE DISTRIBUTION metric, not CUMULATIVE INT64" in body["error"]["message"]
    assert monitoring.series == [] and len(monitoring.refused) == 2
