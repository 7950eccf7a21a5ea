"""Cloud Monitoring as the metrics tests see it: an in-process fake of its REST ``projects.timeSeries.create``
(https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/create) that refuses what Google
documents it refuses and keeps a record, and, on the same port, the Cloud Run metadata server the exporter asks for
the instance and the access token. The fixtures over them (``monitoring``, ``on_cloud_run``) are in
tests/app/conftest.py.

Rules it enforces on each request (400 INVALID_ARGUMENT naming the series, as Google answers; the other series of the
request are still written, as Google writes them):
- at most 200 TimeSeries per request, each a distinct series (create, above);
- exactly one point per TimeSeries (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeSeries);
- a custom metric type (``custom.googleapis.com/``) of kind GAUGE or CUMULATIVE
  (https://cloud.google.com/monitoring/api/v3/kinds-and-types);
- the monitored resource ``generic_task`` with every one of its labels but ``project_id``, which Monitoring takes
  from the request (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#custom-metric-resources);
- intervals by kind: a GAUGE's start time absent or equal to its end, a CUMULATIVE's start earlier than its end and
  the same for every point of the series; end times no more than 25 hours past or 5 minutes ahead
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeInterval);
- each new point more recent than the series' last, and at most one point per series every 5 s
  (https://cloud.google.com/monitoring/quotas);
- a distribution's bucket counts add up to its count, its explicit bounds increase, and it has at most one more
  bucket than bounds (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TypedValue#Distribution);
- a metric type's first write creates its descriptor (kind, value type, labels); later writes must agree on kind
  and value type (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#auto-creation);
- with ``token`` set, the request carries ``Authorization: Bearer <token>`` (else 401 UNAUTHENTICATED).

Not emulated: quotas other than the per-series rate (requests and series per minute, label cardinality), label key
and value formats and lengths, a cumulative series' reset (a new start time), descriptors created through their own
API, projects, IAM and OAuth scopes, and the metadata server beyond the instance ID, region and token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# Google's rules, stated here from its documentation rather than imported from the app: the tests check the app
# against them.
MAX_SERIES = 200
MIN_POINT_SPACING = timedelta(seconds=5)
GENERIC_TASK_LABELS = {"location", "namespace", "job", "task_id"}  # and project_id, from the request


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


def _time(text: str) -> datetime:
    # RFC 3339 with up to nanoseconds: datetime keeps microseconds.
    stamp, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC) + timedelta(microseconds=int((fraction + "000000")[:6]))


def _value_type(typed: dict[str, Any]) -> str:
    return {"int64Value": "INT64", "doubleValue": "DOUBLE", "distributionValue": "DISTRIBUTION"}[next(iter(typed))]


@dataclass
class FakeMonitoring:
    """What was written, and how the fake behaves."""

    series: list[dict[str, Any]] = field(default_factory=list)
    """Every TimeSeries written, in order."""
    requests: list[int] = field(default_factory=list)
    """Number of TimeSeries in each timeSeries.create request received."""
    names: set[str] = field(default_factory=set)
    """The ``projects/<id>`` the requests named."""
    descriptors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Auto-created descriptors: type -> metricKind, valueType, labels (set of keys)."""
    token: str | None = None
    """The access token the metadata server hands out and the API then requires; None: no token required."""
    instance: dict[str, str] | None = None
    """The metadata server's instance ``id`` and ``region``; None: it answers 404."""
    fail_with: tuple[int, str] | None = None
    """(HTTP status, message) every timeSeries.create answers instead of writing."""
    _last: dict[str, tuple[datetime, datetime | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def by_type(self) -> dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]]:
        """Metric type -> sorted metric labels -> the last series written with them."""
        found: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {}
        for series in self.series:
            metric = series["metric"]
            found.setdefault(metric["type"], {})[tuple(sorted(metric.get("labels", {}).items()))] = series
        return found

    # --- timeSeries.create ---

    def create(self, project: str, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        written = body.get("timeSeries") or []
        with self._lock:
            self.requests.append(len(written))
            self.names.add(f"projects/{project}")
            if self.fail_with is not None:
                status, message = self.fail_with
                return _error(status, "PERMISSION_DENIED" if status == 403 else "UNAVAILABLE", message)
            if len(written) > MAX_SERIES:
                return _error(400, "INVALID_ARGUMENT", f"At most {MAX_SERIES} TimeSeries can be written per request.")
            failures, seen = [], set()
            for index, series in enumerate(written):
                key = json.dumps([series.get("metric"), series.get("resource")], sort_keys=True)
                problem = "Duplicate TimeSeries encountered." if key in seen else self._check(key, series)
                seen.add(key)
                if problem:
                    failures.append(f"timeSeries[{index}]: {problem}")
                else:
                    self.series.append(series)
            if failures:
                return _error(
                    400, "INVALID_ARGUMENT", "One or more TimeSeries could not be written: " + "; ".join(failures)
                )
            return 200, {}

    def _check(self, key: str, series: dict[str, Any]) -> str | None:
        metric, resource, kind = series.get("metric", {}), series.get("resource", {}), series.get("metricKind")
        if not str(metric.get("type", "")).startswith("custom.googleapis.com/"):
            return f"metric type {metric.get('type')!r} is not a custom metric"
        if kind not in ("GAUGE", "CUMULATIVE"):
            return f"metric kind {kind!r} cannot be written to a custom metric"
        if resource.get("type") != "generic_task":
            return f"monitored resource {resource.get('type')!r} is not the fake's generic_task"
        if set(resource.get("labels", {})) - {"project_id"} != GENERIC_TASK_LABELS:
            return (
                f"generic_task needs the labels {sorted(GENERIC_TASK_LABELS)}, got {sorted(resource.get('labels', {}))}"
            )
        points = series.get("points") or []
        if len(points) != 1:
            return f"a TimeSeries written must contain exactly one point, not {len(points)}"
        (point,) = points
        interval, typed = point.get("interval", {}), point.get("value", {})
        end = _time(interval["endTime"])
        start = _time(interval["startTime"]) if "startTime" in interval else None
        now = datetime.now(UTC)
        if not now - timedelta(hours=25) <= end <= now + timedelta(minutes=5):
            return "the end time is more than 25 hours in the past or more than 5 minutes in the future"
        if kind == "GAUGE" and start is not None and start != end:
            return "a GAUGE point's start time must equal its end time"
        if kind == "CUMULATIVE" and (start is None or start >= end):
            return "a CUMULATIVE point's start time must be earlier than its end time"
        if key in self._last:
            last_end, last_start = self._last[key]
            if end <= last_end:
                return "Points must be written in order: the point is not more recent than the series' last."
            if end - last_end < MIN_POINT_SPACING:
                return "One or more points were written more frequently than the maximum sampling period (5 s)."
            if kind == "CUMULATIVE" and start != last_start:
                return "a CUMULATIVE series' points must share their start time"
        if problem := _distribution_problem(typed):
            return problem
        value_type = _value_type(typed)
        labels = set(metric.get("labels", {}))
        descriptor = self.descriptors.setdefault(
            metric["type"], {"metricKind": kind, "valueType": value_type, "labels": set()}
        )
        if (descriptor["metricKind"], descriptor["valueType"]) != (kind, value_type):
            return (
                f"{metric['type']} is a {descriptor['metricKind']} {descriptor['valueType']} metric, "
                f"not {kind} {value_type}"
            )
        descriptor["labels"] |= labels
        self._last[key] = (end, start)
        return None


def _distribution_problem(typed: dict[str, Any]) -> str | None:
    if "distributionValue" not in typed:
        return None
    d = typed["distributionValue"]
    bounds = d.get("bucketOptions", {}).get("explicitBuckets", {}).get("bounds", [])
    counts = [int(c) for c in d.get("bucketCounts", [])]
    if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
        return "explicit bucket bounds must increase"
    if len(counts) > len(bounds) + 1:
        return "more bucket counts than buckets"
    if counts and sum(counts) != int(d.get("count", 0)):
        return "the bucket counts do not add up to the count"
    return None


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """Google's error body (https://cloud.google.com/apis/design/errors#http_mapping)."""
    return status, {"error": {"code": status, "message": message, "status": code}}


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
                self._answer(*_error(404, "NOT_FOUND", f"no such method: {self.path}"))

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
