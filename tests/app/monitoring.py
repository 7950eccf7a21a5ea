"""Cloud Monitoring as the metrics tests see it: an in-process fake of its REST ``projects.timeSeries.create`` that
refuses what Google documents it refuses and keeps a record (the rules are grid/localcloud/monitoring.py's, which
`grid local` runs too, listed there with what is not emulated), and, on the same port, the Cloud Run metadata server
the exporter asks for the instance and the access token. With ``token`` set, the API requires
``Authorization: Bearer <token>`` (else 401 UNAUTHENTICATED). The fixtures over them (``monitoring``,
``on_cloud_run``) are in tests/app/conftest.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from grid.localcloud.monitoring import CloudMonitoring, error


@dataclass(frozen=True)
class Distribution:
    count: int
    mean: float
    bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]


def value(point: dict[str, Any]) -> int | float | Distribution:
    """A point's value, whichever kind it is (int64, double, distribution)."""
    typed = point["value"]
    if "int64Value" in typed:
        return int(typed["int64Value"])
    if "doubleValue" in typed:
        return float(typed["doubleValue"])
    d = typed["distributionValue"]
    return Distribution(
        int(d["count"]),
        float(d.get("mean", 0.0)),
        tuple(d["bucketOptions"]["explicitBuckets"]["bounds"]),
        tuple(int(c) for c in d.get("bucketCounts", ())),
    )


@dataclass
class FakeMonitoring(CloudMonitoring):
    """What was written, and how the fake behaves besides Monitoring's rules."""

    token: str | None = None
    """The access token the metadata server hands out and the API then requires; None: no token required."""
    instance: dict[str, str] | None = None
    """The metadata server's instance ``id`` and ``region``; None: it answers 404."""
    fail_with: tuple[int, str] | None = None
    """(HTTP status, message) every timeSeries.create answers instead of writing."""

    def create(  # type: ignore[override]
        self, project: str, body: dict[str, Any], authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if self.fail_with is not None:
            self.requests.append(len(body.get("timeSeries") or []))
            status, message = self.fail_with
            return error(status, "PERMISSION_DENIED" if status == 403 else "UNAVAILABLE", message)
        return super().create(project, body)


def _handler(fake: FakeMonitoring) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any] | str) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            parts = self.path.split("/")  # /v3/projects/<project>/timeSeries
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if len(parts) == 5 and parts[1:3] == ["v3", "projects"] and parts[4] == "timeSeries":
                self._answer(*fake.create(parts[3], body, self.headers.get("Authorization")))
            else:
                self._answer(*error(404, "NOT_FOUND", f"no such method: {self.path}"))

        def do_GET(self) -> None:  # the metadata server
            path = self.path.removeprefix("/computeMetadata/v1/")
            if self.headers.get("Metadata-Flavor") != "Google":
                self._answer(403, "Missing Metadata-Flavor:Google header.")
            elif path == "instance/service-accounts/default/token" and fake.token is not None:
                self._answer(200, {"access_token": fake.token, "expires_in": 3599, "token_type": "Bearer"})
            elif path in ("instance/id", "instance/region") and fake.instance is not None:
                self._answer(200, fake.instance[path.removeprefix("instance/")])
            else:
                self._answer(404, "Not Found")

    return Handler


@contextmanager
def fake_monitoring() -> Iterator[tuple[FakeMonitoring, str]]:
    """The fake on a random local port: (its record, its base URL for ``MONITORING_ENDPOINT``)."""
    fake = FakeMonitoring()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, name="fake-monitoring", daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pose_as_cloud_run(
    monkeypatch: pytest.MonkeyPatch, fake: FakeMonitoring, base_url: str, service: str
) -> dict[str, str]:
    """Make this process look like an instance of Cloud Run service ``grid-dev-<service>``: K_* variables, and the
    fake as its metadata server (GCE_METADATA_HOST). Returns the ``generic_task`` labels its points must carry."""
    name = f"grid-dev-{service}"
    revision = f"{name}-00007-xuz"
    for variable, setting in {"K_SERVICE": name, "K_REVISION": revision, "K_CONFIGURATION": name}.items():
        monkeypatch.setenv(variable, setting)
    monkeypatch.setenv("GCE_METADATA_HOST", base_url.removeprefix("http://"))
    monkeypatch.setattr(fake, "instance", {"id": "00bf4bf02d", "region": "projects/123/regions/europe-west1"})
    return {"job": name, "namespace": revision, "task_id": "00bf4bf02d", "location": "europe-west1"}
