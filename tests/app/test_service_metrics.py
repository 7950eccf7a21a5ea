"""api and auth export their metrics as ai does. Each service, started as in its container with METRICS_EXPORT on
and pointed at the fake Monitoring API (tests/app/monitoring.py), writes request latency by route template (api also
its cache lookups) against its own ``generic_task``: exactly the metric types app/common/metrics.py says it writes
(``written_by``, which the plan's comparison in tests/components/test_monitoring.py reads). Its startup does not
wait for the exporter: app/common/app.py imports and starts it in a thread beside startup, and importing a service's
app does not import it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.common import app as common_app
from app.common import metrics
from app.common.metrics import EXPORTED, METRICS, start_export
from app.common.monitoring_api import MONITORED_RESOURCE
from tests.app.conftest import ServerThread, start_api, start_auth
from tests.app.monitoring import FakeMonitoring, value
from tests.conftest import REPO_ROOT

METRICS_ON = {"METRICS_EXPORT": True, "GOOGLE_CLOUD_PROJECT": "grid-test"}
# What start_export imports: the OpenTelemetry SDK and Grid's exporter, only with METRICS_EXPORT on.
EXPORTER_MODULES = ("opentelemetry.sdk.metrics", "app.common.monitoring_api")
# What it must never import: Google's exporter and resource detector, the Monitoring client, api-core and gRPC
# (app/common/monitoring_api.py says why). The bare namespace package ``google.cloud`` does not count: a .pth file of
# functions-framework's declares it at every interpreter start.
GOOGLE_STACK = (
    "grpc",
    "google.cloud",
    "google.api_core",
    "proto",
    "opentelemetry.exporter",
    "opentelemetry.resourcedetector",
)


@pytest.fixture
def held_export(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The service's start_export waits for the returned event: the test sees the service up without it."""
    gate = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Callable[[], None]:
        if not gate.wait(60):
            raise RuntimeError("the test never let the export start")
        return start_export(*args, **kwargs)

    monkeypatch.setattr(common_app, "start_export", held)
    # One service per process, as deployed: an ai server other tests left running in this process must not lend
    # its embed queue to the service under test (METRICS is the process's one recorder).
    monkeypatch.setattr(METRICS, "_depths", {})
    yield gate
    gate.set()


def _until_bound() -> None:
    deadline = time.monotonic() + 60
    while not METRICS.bound:
        assert time.monotonic() < deadline, "the export never started"
        time.sleep(0.02)


def _serving_before_the_exporter(server: ServerThread, client: httpx.Client, gate: threading.Event) -> None:
    """The instance answers while start_export is still held, then the export starts beside it."""
    assert server.server.started and client.get("/health").status_code == 200
    assert not METRICS.bound
    gate.set()
    _until_bound()


def _exported(fake: FakeMonitoring, service: str, resource: dict[str, str]) -> dict[str, dict[Any, Any]]:
    """What ``service`` wrote: exactly its metric types, each against its own generic_task, to the project."""
    assert fake.names == {"projects/grid-test"}
    for series in fake.series:
        assert series["resource"] == {"type": MONITORED_RESOURCE, "labels": resource}
    written = fake.by_type()
    assert set(written) == {spec.type for spec in EXPORTED if spec.written_by(service)}
    return written


def _latency(written: dict[str, dict[Any, Any]]) -> dict[tuple[str, str, str], int]:
    series = written[metrics.REQUEST_LATENCY.type]
    return {
        (dict(labels)["method"], dict(labels)["response_code_class"], dict(labels)["route"]): value(
            s["points"][-1]
        ).count
        for labels, s in series.items()
    }


def test_auth_exports_latency_by_route_without_delaying_its_start(
    postgres, redis_server, key_dir, monitoring, on_cloud_run, held_export
) -> None:
    fake, endpoint = monitoring
    resource = on_cloud_run("auth")
    server = start_auth(postgres, redis_server, key_dir, **METRICS_ON, MONITORING_ENDPOINT=endpoint)
    try:
        with httpx.Client(base_url=server.url, timeout=15) as client:
            _serving_before_the_exporter(server, client, held_export)
            for _ in range(2):
                assert client.get("/auth/.well-known/jwks.json").status_code == 200
            assert client.get("/auth/me").status_code == 401
    finally:
        held_export.set()
        server.stop()  # the lifespan flushes the last points
    assert not METRICS.bound
    written = _exported(fake, "auth", resource)
    assert _latency(written) == {
        ("GET", "2xx", "/auth/.well-known/jwks.json"): 2,
        ("GET", "4xx", "/auth/me"): 1,
    }


def test_api_exports_latency_by_route_and_cache_lookups_without_delaying_its_start(
    postgres, redis_server, auth_server, make_user, monitoring, on_cloud_run, held_export
) -> None:
    user = make_user()  # through the session's auth, before this export starts: not api's series
    fake, endpoint = monitoring
    resource = on_cloud_run("api")
    server = start_api(postgres, redis_server, auth_server.url, **METRICS_ON, MONITORING_ENDPOINT=endpoint)
    try:
        with httpx.Client(base_url=server.url, timeout=15, headers=user.headers) as client:
            # Fetches auth's keys once (auth serves from this process too): before the export, so not counted.
            assert client.get("/v1/conversations").status_code == 200
            _serving_before_the_exporter(server, client, held_export)
            for _ in range(2):  # a miss, then an L1 hit
                assert client.get("/v1/agents").status_code == 200
            assert client.get(f"/v1/agents/{uuid.uuid4()}").status_code == 404
    finally:
        held_export.set()
        server.stop()
    assert not METRICS.bound
    written = _exported(fake, "api", resource)
    assert _latency(written) == {
        ("GET", "2xx", "/v1/agents"): 2,
        ("GET", "4xx", "/v1/agents/{agent_id}"): 1,
    }
    lookups = {
        (dict(labels)["cache"], dict(labels)["result"]): value(s["points"][-1])
        for labels, s in written[metrics.CACHE_LOOKUPS.type].items()
    }
    assert lookups == {("grid:api:cache", "miss"): 2, ("grid:api:cache", "l1"): 1}


def test_importing_a_service_does_not_import_the_exporter() -> None:
    """What a cold start imports before it serves: every service's app module, without the exporter; and starting
    the export, with every service imported, brings none of Google's gRPC stack."""
    from gridlib.workloads import BUNDLED

    services = tuple(w.name for w in BUNDLED if w.kind == "service")
    code = (
        "import importlib, sys\n"
        f"for service in {services!r}:\n"
        "    importlib.import_module(f'app.{service}.main')\n"
        "def loaded(names):\n"
        "    return sorted(m for m in sys.modules for n in names if m != 'google.cloud' and (m == n or m.startswith(n + '.')))\n"
        f"print(loaded({EXPORTER_MODULES!r}), loaded({GOOGLE_STACK!r}))\n"
        "from app.common.metrics import start_export\n"
        "start_export('grid-test', 'api', endpoint='http://127.0.0.1:9')()\n"
        f"print(bool(loaded({EXPORTER_MODULES!r})), loaded({GOOGLE_STACK!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[] []", "True []"], out.stdout + out.stderr
