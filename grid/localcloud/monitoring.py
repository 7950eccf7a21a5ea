"""Cloud Monitoring's ``projects.timeSeries.create`` as Google documents it
(https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/create): what `grid local` runs for the
workloads' app metrics, and what the metrics tests' fake (tests/app/monitoring.py) serves over HTTP.

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
- a metric type's descriptor fixes its kind and value type: the ones the plan declares
  (``gcp:monitoring/metricDescriptor:MetricDescriptor``), else the first write creates it
  (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#auto-creation); later writes must agree;
- with ``writers`` given (`grid local`), the caller must hold ``roles/monitoring.metricWriter`` on the project
  (https://cloud.google.com/monitoring/access-control#roles): 403 PERMISSION_DENIED otherwise.

Not emulated: quotas other than the per-series rate (requests and series per minute, label cardinality), label key
and value formats and lengths, a cumulative series' reset (a new start time), descriptors created through their own
API, IAM conditions, custom roles and OAuth scopes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_SERIES = 200
MIN_POINT_SPACING = timedelta(seconds=5)
GENERIC_TASK_LABELS = {"location", "namespace", "job", "task_id"}  # and project_id, from the request
METRIC_WRITER = "roles/monitoring.metricWriter"


def _time(text: str) -> datetime:
    # RFC 3339 with up to nanoseconds: datetime keeps microseconds.
    stamp, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC) + timedelta(microseconds=int((fraction + "000000")[:6]))


def _value_type(typed: dict[str, Any]) -> str:
    return {"int64Value": "INT64", "doubleValue": "DOUBLE", "distributionValue": "DISTRIBUTION"}[next(iter(typed))]


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """Google's error body (https://cloud.google.com/apis/design/errors#http_mapping)."""
    return status, {"error": {"code": status, "message": message, "status": code}}


@dataclass
class CloudMonitoring:
    """What was written and refused; the descriptors and writers the plan declares."""

    descriptors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Metric type -> metricKind, valueType, labels (set of keys): the plan's, and those a first write created."""
    writers: Collection[str] | None = None
    """Members holding roles/monitoring.metricWriter on the project; None: not checked (the tests' fake)."""
    series: list[dict[str, Any]] = field(default_factory=list)
    """Every TimeSeries written, in order."""
    requests: list[int] = field(default_factory=list)
    """Number of TimeSeries in each timeSeries.create request received."""
    names: set[str] = field(default_factory=set)
    """The ``projects/<id>`` the requests named."""
    refused: list[str] = field(default_factory=list)
    """Each refusal's message, in order."""
    _last: dict[str, tuple[datetime, datetime | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def declared(cls, descriptors: Mapping[str, Mapping[str, Any]], writers: Collection[str]) -> CloudMonitoring:
        """The API of a project whose plan declares ``descriptors`` (type -> metricKind, valueType, labels)."""
        return cls({t: {**d, "labels": set(d.get("labels", ()))} for t, d in descriptors.items()}, set(writers))

    def by_type(self) -> dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]]:
        """Metric type -> sorted metric labels -> the last series written with them."""
        found: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {}
        for series in self.series:
            metric = series["metric"]
            found.setdefault(metric["type"], {})[tuple(sorted(metric.get("labels", {}).items()))] = series
        return found

    def create(self, project: str, body: dict[str, Any], member: str | None = None) -> tuple[int, dict[str, Any]]:
        """timeSeries.create in ``project`` as ``member``: (HTTP status, response body)."""
        written = body.get("timeSeries") or []
        with self._lock:
            self.requests.append(len(written))
            self.names.add(f"projects/{project}")
            if self.writers is not None and member not in self.writers:
                return self._refuse(
                    403,
                    "PERMISSION_DENIED",
                    f"Permission monitoring.timeSeries.create denied on resource 'projects/{project}' "
                    "(or it may not exist).",
                )
            if len(written) > MAX_SERIES:
                return self._refuse(
                    400, "INVALID_ARGUMENT", f"At most {MAX_SERIES} TimeSeries can be written per request."
                )
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
                return self._refuse(
                    400, "INVALID_ARGUMENT", "One or more TimeSeries could not be written: " + "; ".join(failures)
                )
            return 200, {}

    def _refuse(self, status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(message)
        return error(status, code, message)

    def _check(self, key: str, series: dict[str, Any]) -> str | None:
        metric, resource, kind = series.get("metric", {}), series.get("resource", {}), series.get("metricKind")
        if not str(metric.get("type", "")).startswith("custom.googleapis.com/"):
            return f"metric type {metric.get('type')!r} is not a custom metric"
        if kind not in ("GAUGE", "CUMULATIVE"):
            return f"metric kind {kind!r} cannot be written to a custom metric"
        if resource.get("type") != "generic_task":
            return f"monitored resource {resource.get('type')!r} is not generic_task"
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


def monitoring_routes(monitoring: CloudMonitoring, member: str) -> list[Route]:
    """timeSeries.create as ``member`` (the workload this listener belongs to) calls it."""

    async def create(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            status, answer = error(400, "INVALID_ARGUMENT", "invalid JSON")
            return JSONResponse(answer, status)
        status, answer = monitoring.create(request.path_params["project"], body, member)
        return JSONResponse(answer, status)

    return [Route("/v3/projects/{project}/timeSeries", create, methods=["POST"])]
