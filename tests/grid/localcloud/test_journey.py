"""The user's journey through the entry point of every shipped stack, on the local cloud its plan describes,
and the refusals Google's wiring rules make (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from websockets.sync.client import connect

from tests.grid.localcloud.conftest import REPO, STACKS

pytestmark = pytest.mark.timeout(900)
PASSWORD = "local-cloud-journey-passphrase"
HELD_OPEN_S = 61.0  # past the 60 s request timeout that used to cut every stream


@dataclass
class Stream:
    """A WebSocket held open on a thread, collecting what the api pushes."""

    opened_at: float = 0.0
    received: list[dict] = field(default_factory=list)
    closed: str | None = None

    def hold(self, url: str, headers: dict[str, str]) -> None:
        ready = threading.Event()

        def run() -> None:
            try:
                with connect(url, additional_headers=headers, open_timeout=30, ping_interval=20) as ws:
                    self.opened_at = time.monotonic()
                    ready.set()
                    for message in ws:
                        self.received.append(json.loads(message))
                self.closed = "closed by the server"
            except Exception as exc:  # recorded: the test reports it
                self.closed = repr(exc)
            finally:
                ready.set()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(60)


@dataclass
class Journey:
    cloud: object
    client: httpx.Client
    headers: dict[str, str]
    conversation: str
    stream: Stream
    timings: dict[str, float]


def _ws_url(cloud, path: str) -> str:
    return "ws" + cloud.entry[len("http") :] + path


@pytest.fixture(scope="session")
def journeys(clouds):
    """Register, log in, refresh, make an agent and a conversation, open its stream: on every stack at once."""
    result = {}
    for stack in STACKS:
        cloud = clouds[stack]
        started = time.monotonic()
        c = cloud.client()
        email = f"{stack}-{uuid.uuid4().hex[:8]}@example.com"
        r = c.post("/auth/register", json={"email": email, "password": PASSWORD, "display_name": stack})
        assert r.status_code == 201, r.text
        tokens = c.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert c.get("/auth/me", headers=headers).json()["email"] == email
        # The api's first token check fetches auth's keys; while three stacks start on two cores that fetch can
        # time out, and the api tries again after its 10 s refresh floor, as it would on a cold Cloud Run start.
        deadline = time.monotonic() + 60
        while (agent := c.post("/v1/agents", json={"name": f"{stack} agent"}, headers=headers)).status_code == 401:
            assert time.monotonic() < deadline, agent.text
            time.sleep(2)
        assert agent.status_code == 201, agent.text
        conv = c.post("/v1/conversations", json={"agent_id": agent.json()["id"], "title": stack}, headers=headers)
        assert conv.status_code == 201, conv.text
        stream = Stream()
        stream.hold(_ws_url(cloud, f"/v1/conversations/{conv.json()['id']}/stream"), {**headers, **cloud.entry_headers})
        assert stream.closed is None, f"{stack}: stream refused: {stream.closed}"
        result[stack] = Journey(cloud, c, headers, conv.json()["id"], stream, {"setup": time.monotonic() - started})
    yield result
    for journey in result.values():
        journey.client.close()


@pytest.mark.parametrize("stack", STACKS)
def test_messages_with_idempotency_key(journeys, stack):
    j = journeys[stack]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/v1/conversations/{j.conversation}/messages"
    body = {"role": "user", "content": "the quarterly rent review is due next week"}
    first = j.client.post(path, json=body, headers={**j.headers, **key})
    again = j.client.post(path, json=body, headers={**j.headers, **key})
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    items = j.client.get(path, headers=j.headers).json()["items"]
    assert [m["content"] for m in items] == [body["content"]]


@pytest.mark.parametrize("stack", STACKS)
def test_semantic_search_finds_a_message_after_the_event_path(journeys, stack):
    """api -> Pub/Sub topic -> ai-indexer pull subscription -> ai embeds and stores -> /ai/search finds it."""
    j = journeys[stack]
    deadline = time.monotonic() + 120
    while True:
        r = j.client.post("/ai/search", json={"query": "when is the rent review?", "limit": 5}, headers=j.headers)
        assert r.status_code == 200, r.text
        if any("rent review" in hit["content"] for hit in r.json()["items"]):
            break
        assert time.monotonic() < deadline, f"not indexed: {j.cloud.status()['pubsub']}"
        time.sleep(1)


@pytest.mark.parametrize("stack", STACKS)
def test_deferred_reindex_runs_through_the_plans_task_queue(journeys, stack):
    """ai -> Cloud Tasks (enqueuer and actAs grants checked) -> the task calls ai with the invoker's OIDC token
    through its door (run.invoker, custom audience) -> 204 completes it."""
    j = journeys[stack]
    r = j.client.post("/ai/reindex", headers=j.headers)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while not any(q["completed"] for q in j.cloud.status()["tasks"].values()):
        assert time.monotonic() < deadline, j.cloud.status()["tasks"]
        time.sleep(1)
    assert not any(q["dropped"] for q in j.cloud.status()["tasks"].values())


@pytest.mark.parametrize("stack", STACKS)
def test_korean_nlp_analyses_korean(journeys, stack):
    j = journeys[stack]
    r = j.client.post("/fn/korean-nlp/analyze", json={"text": "고양이가 좋아요"}, headers=j.headers)
    assert r.status_code == 200, r.text
    assert r.json()["nouns"] == ["고양이"]


@pytest.mark.parametrize("stack", STACKS)
def test_ml_analytics_receives_pushed_events_and_the_scheduled_report_runs(journeys, stack):
    j = journeys[stack]
    deadline = time.monotonic() + 60
    push = next(name for name in j.cloud.status()["pubsub"] if name.endswith("-events-push"))
    while j.cloud.status()["pubsub"][push]["delivered"] < 1:
        assert time.monotonic() < deadline, j.cloud.status()["pubsub"]
        time.sleep(0.5)
    run = subprocess.run(
        [sys.executable, "-m", "grid.cli", "local", "trigger", "daily-report", "--data-dir", str(j.cloud.data_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "answered 200" in run.stdout


def _issuer_key(cloud) -> object:
    return serialization.load_pem_private_key((Path(cloud.data_dir) / "pki" / "issuer.pem").read_bytes(), None)


def _id_token(cloud, email: str, audience: str) -> str:
    """An ID token from the local issuer that stands for Google (as a workload's metadata server makes them)."""
    from grid.localcloud.identity import Issuer

    return Issuer(_issuer_key(cloud)).id_token(email, audience)


@pytest.mark.parametrize("stack", STACKS)
def test_refusals(journeys, stack):
    j = journeys[stack]
    workloads = j.cloud.topology["workloads"]
    assert not any(w["public"] for w in workloads.values())
    api_url = workloads["api"]["url"]
    direct = httpx.get(f"{api_url}/health", timeout=10)
    if j.cloud.topology.get("apiKey"):  # API Gateway: services keep their URL, only granted identities invoke them
        assert direct.status_code == 401  # no ID token
        auth_url = workloads["auth"]["url"]
        plan_api_sa = f"grid-{stack}-api@acme-grid-dev.iam.gserviceaccount.com"
        wrong_audience = _id_token(j.cloud, plan_api_sa, "https://elsewhere.a.run.app")
        r = httpx.get(f"{auth_url}/health", headers={"Authorization": f"Bearer {wrong_audience}"}, timeout=10)
        assert r.status_code == 401
        stranger = _id_token(j.cloud, f"grid-{stack}-korean-nlp@acme-grid-dev.iam.gserviceaccount.com", auth_url)
        assert (
            httpx.get(f"{auth_url}/health", headers={"Authorization": f"Bearer {stranger}"}, timeout=10).status_code
            == 403
        )
        granted = _id_token(j.cloud, plan_api_sa, auth_url)
        assert (
            httpx.get(f"{auth_url}/health", headers={"Authorization": f"Bearer {granted}"}, timeout=10).status_code
            == 200
        )
        # cost-cap is internal-only: unreachable from outside whatever the token.
        assert httpx.get(f"{workloads['cost-cap']['url']}/", timeout=10).status_code == 404
    else:  # load balancer: ingress admits only it (and the VPC)
        assert direct.status_code == 404
        assert httpx.get(f"{workloads['ml-analytics']['url']}/fn/ml-analytics/report", timeout=10).status_code == 404
    # ml-analytics' ingest and report accept only the platform's identities (Pub/Sub push, Scheduler).
    for path in ("/fn/ml-analytics/events", "/fn/ml-analytics/report"):
        r = j.client.post(path, json={}, headers=j.headers)
        assert r.status_code in (401, 403, 404), f"{path} through the entry point: {r.status_code} {r.text}"


@pytest.mark.parametrize("stack", STACKS)
def test_api_ready_reports_its_cache(journeys, stack):
    j = journeys[stack]
    ready = j.client.get("/ready").json()
    assert ready["database"] == "ok"
    # dev has no Redis; staging/prod reach Memorystore with AUTH and TLS, dev-external its provider's over TLS.
    assert ready["cache"] == ("in-process" if stack == "dev" else "ok"), ready


@pytest.mark.parametrize("stack", STACKS)
def test_websocket_stream_outlives_sixty_seconds(journeys, stack):
    j = journeys[stack]
    time.sleep(max(0.0, j.stream.opened_at + HELD_OPEN_S - time.monotonic()))
    assert j.stream.closed is None, f"{stack}: {j.stream.closed}"
    r = j.client.post(
        f"/v1/conversations/{j.conversation}/messages",
        json={"role": "user", "content": "still there?"},
        headers=j.headers,
    )
    assert r.status_code == 201
    deadline = time.monotonic() + 30
    while not any("still there?" in json.dumps(m) for m in j.stream.received):
        assert time.monotonic() < deadline, f"{stack}: nothing on the stream: {j.stream.received} {j.stream.closed}"
        time.sleep(0.2)
    j.timings["journey"] = time.monotonic() - j.stream.opened_at


@pytest.mark.parametrize("stack", STACKS)
def test_app_metrics_reach_cloud_monitoring_as_the_plan_declares_them(journeys, stack):
    """auth, api and ai export at the plan's interval (dev and dev-external, staging 120 s, prod 60 s) to the local
    Monitoring API, which checks each writer's roles/monitoring.metricWriter grant and the plan's descriptors: every
    exporting service's latency series arrive, and nothing was refused."""
    cloud = journeys[stack].cloud
    deadline = time.monotonic() + 150
    while not {"auth", "api", "ai"} <= set((monitoring := cloud.status()["monitoring"])["jobs"]):
        assert time.monotonic() < deadline, monitoring
        time.sleep(2)
    assert monitoring["series"].get("custom.googleapis.com/grid/http/server/latencies"), monitoring
    assert monitoring["refused"] == [], monitoring["refused"]


@pytest.mark.parametrize("stack", STACKS)
def test_peak_memory_within_eighty_percent_of_the_plans_limits(journeys, stack):
    memory = journeys[stack].cloud.status()["memory"]
    print(f"\n{stack} peak memory (MiB, PSS of each workload's processes) vs the plan's limit:")
    for name, m in memory.items():
        print(f"  {name:14} {m['peakRssMiB']:8.1f} / {m['limitMiB']:6d}  ({m['peakRssMiB'] / m['limitMiB']:.0%})")
    print(f"  ready after {journeys[stack].cloud.ready_after:.1f} s")
    over = {n: m for n, m in memory.items() if m["peakRssMiB"] > 0.8 * m["limitMiB"]}
    assert not over, over
    assert journeys[stack].cloud.status()["failure"] is None


def test_api_gateway_checks_the_user_the_key_and_answers_preflights_through_the_service(journeys):
    """dev's entry is API Gateway: real requests through grid local's emulation to the running services."""
    j = journeys["dev"]
    cloud = j.cloud
    with httpx.Client(base_url=cloud.entry, timeout=30, headers={"Host": cloud.topology["host"]}) as bare:
        assert bare.get("/auth/health").status_code == 200  # probes: no key, no token (uptime checks)
        anonymous = bare.post("/auth/login", json={"email": "x@example.com", "password": PASSWORD})
        assert anonymous.status_code == 401 and "UNAUTHENTICATED" in anonymous.text  # refused at the gateway
        assert bare.post("/auth/login", json={}, headers={"x-api-key": "AIza-not-a-key"}).status_code == 400
        origin = "http://localhost:5173"  # Pulumi.dev.yaml's allowedOrigins
        asked = {"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, x-api-key"}  # fmt: skip
        preflight = bare.options("/v1/agents", headers=asked)  # no key, no token: answered by the api service
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        foreign = bare.options("/v1/agents", headers={**asked, "Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in foreign.headers
        function = bare.options("/fn/korean-nlp/analyze", headers=asked)  # answered by the function itself
        assert function.status_code == 200 and function.headers["access-control-allow-origin"] == origin
    missing = j.client.get("/v1/agents")  # the stack's key, no user token: the gateway refuses
    assert missing.status_code == 401 and "Jwt is missing" in missing.text
    forged = j.client.get("/v1/agents", headers={"Authorization": "Bearer " + j.headers["Authorization"][-40:]})
    assert forged.status_code == 401 and "agents" not in forged.text
    allowed = j.client.get("/v1/agents", headers={**j.headers, "Origin": origin})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == origin
    # Another consumer project's key: admitted, and metered apart from the stack's own.
    other = httpx.post(f"{cloud.topology['control']}/apiKeys", json={"project": "a-partner"}, timeout=10).json()
    assert j.client.get("/v1/agents", headers={**j.headers, "x-api-key": other["keyString"]}).status_code == 200
