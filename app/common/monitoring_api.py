"""The app metrics' way into Cloud Monitoring: an OpenTelemetry metric exporter that writes the SDK's MetricsData to
``projects.timeSeries.create`` over REST, and the ``generic_task`` resource of this Cloud Run instance.

Why hand-written: Google's ``opentelemetry-exporter-gcp-monitoring`` and ``opentelemetry-resourcedetector-gcp`` bring
gRPC, google-cloud-monitoring, google-api-core and proto-plus: importing them cost +1.02 CPU s over the floor in a
fresh interpreter (this module and the SDK: +0.26 s), a cold start with the export on went from 1.95-2.12x to
1.56-1.67x the service floor's CPU, and they added 24-33 MB to each service image (bench/metrics_cost.py,
bench/coldstart_bench.py --metrics-export; docs/benchmarks.md, 2026-11-30). What Grid writes is one JSON call
over HTTPS with the metadata server's token, as app/ai/tasks.py calls Cloud Tasks (app/common/gcp.py).

What it writes is what Google's exporter (1.15.0a0) wrote, read from its source:
- one TimeSeries per data point: ``metric`` = {type: PREFIX/<instrument>, labels: the point's attributes as strings},
  ``resource`` = generic_task, ``metricKind``, ``unit``, and exactly one point
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeSeries: "When creating a time series, this field must
  contain exactly one point");
- counters (monotonic sums) CUMULATIVE, histograms CUMULATIVE DISTRIBUTION with explicit bucket bounds and counts
  and the mean, gauges (and non-monotonic sums) GAUGE; ints INT64, floats DOUBLE
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TypedValue#Distribution);
- CUMULATIVE points carry their start time, GAUGE points only their end time
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeInterval: a GAUGE's start time, if given, must equal
  its end; a CUMULATIVE's start must be earlier, the same for every point until a reset);
- at most 200 series per request, so larger exports are split
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/create).
It does not create metric descriptors, which Google's exporter also did: the stack declares them
(components/monitoring/alerting.py, with typed labels and descriptions the dashboards depend on), and where it does
not, Monitoring creates a custom metric's descriptor from its first write
(https://cloud.google.com/monitoring/custom-metrics/creating-metrics#auto-creation).

The generic_task labels are the ones Google's resource detector and exporter produced on Cloud Run
(https://cloud.google.com/monitoring/custom-metrics/creating-metrics#custom-metric-resources): ``job`` = K_SERVICE,
``namespace`` = K_REVISION, ``task_id`` = the instance ID and ``location`` = the region, both from the metadata
server (https://cloud.google.com/run/docs/container-contract#metadata-server). Off Cloud Run (no K_CONFIGURATION),
or when the metadata server does not answer, as the detector then: ``location`` "global" and a per-process
``task_id``. ``project_id`` is not sent (nor was it): Monitoring takes it from the request's project.

Imported only by start_export (METRICS_EXPORT on), in its thread beside startup.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    Sum,
)

from app.common.gcp import METADATA_HEADERS, google_api_blocking, metadata_url

log = logging.getLogger("app.metrics")

MONITORING_API = "https://monitoring.googleapis.com"
MONITORED_RESOURCE = "generic_task"
"""What a Cloud Run instance's points are written against (see above). (Stated here, not in app/common/metrics.py,
which imports this module.)"""
MAX_SERIES_PER_REQUEST = 200
"""projects.timeSeries.create takes at most 200 TimeSeries per call (link above)."""
MIN_POINT_SPACING_S = 5.0
"""Monitoring takes at most one point per time series every 5 s and refuses the rest
(https://cloud.google.com/monitoring/quotas): every export writes every series, so an export less than 5 s after
the last one written (the flush at instance shutdown right after a periodic export) would be refused."""
_METADATA_TIMEOUT = httpx.Timeout(5.0, connect=2.0)  # the detector's (2, 5)


def generic_task(service: str, http: httpx.Client) -> dict[str, str]:
    """This instance's generic_task labels (see the module's docstring)."""
    region, instance = "", ""
    if "K_CONFIGURATION" in os.environ:  # on Cloud Run, as the detector tells
        try:
            instance, region = (
                _metadata(http, "instance/id"),
                _metadata(http, "instance/region").rpartition("/")[2],
            )
        except httpx.HTTPError as exc:
            log.warning("the metadata server did not say which instance this is (%s): task_id is per process", exc)
    return {
        "location": region or "global",
        "namespace": os.environ.get("K_REVISION", ""),
        "job": os.environ.get("K_SERVICE") or service,
        # One writer per series: the Cloud Run instance ID (as in its logs), else one per process.
        "task_id": instance or uuid.uuid4().hex,
    }


def _metadata(http: httpx.Client, path: str) -> str:
    resp = http.get(metadata_url(path), headers=METADATA_HEADERS, timeout=_METADATA_TIMEOUT)
    resp.raise_for_status()
    return resp.text.strip()


def _timestamp(nanos: int) -> str:
    """RFC 3339 in UTC with nanoseconds, as the API's JSON takes a Timestamp."""
    seconds, fraction = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def _label_key(key: str) -> str:
    """A valid Monitoring label key, as Google's exporter made it: other characters to ``_``, no leading digit."""
    sanitized = "".join(c if c.isalnum() else "_" for c in key)
    return f"key_{sanitized}" if sanitized[:1].isdigit() else sanitized


def _kind(data: Any) -> str | None:
    if isinstance(data, Sum):
        return "CUMULATIVE" if data.is_monotonic else "GAUGE"
    if isinstance(data, Histogram):
        return "CUMULATIVE"
    if isinstance(data, Gauge):
        return "GAUGE"
    return None  # exponential histograms: Grid's meter provider configures none


def _value(point: NumberDataPoint | HistogramDataPoint) -> dict[str, Any]:
    # int64 is a JSON string in the API's JSON mapping (proto3); doubles are numbers.
    if isinstance(point, HistogramDataPoint):
        distribution = {
            "count": str(point.count),
            "mean": point.sum / point.count if point.count else 0.0,
            "bucketOptions": {"explicitBuckets": {"bounds": list(point.explicit_bounds)}},
            "bucketCounts": [str(count) for count in point.bucket_counts],
        }
        return {"distributionValue": distribution}
    if isinstance(point.value, int):
        return {"int64Value": str(point.value)}
    return {"doubleValue": point.value}


def time_series(metrics: MetricsData, prefix: str, resource: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """One TimeSeries (REST JSON) per data point of ``metrics``."""
    monitored = {"type": MONITORED_RESOURCE, "labels": dict(resource)}
    for resource_metrics in metrics.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                kind = _kind(metric.data)
                if kind is None:
                    log.warning("%s: %s is not exported", metric.name, type(metric.data).__name__)
                    continue
                for point in metric.data.data_points:
                    interval = {"endTime": _timestamp(point.time_unix_nano)}
                    if kind == "CUMULATIVE":
                        interval["startTime"] = _timestamp(point.start_time_unix_nano)
                    labels = {_label_key(k): str(v) for k, v in (point.attributes or {}).items()}
                    series: dict[str, Any] = {
                        "metric": {"type": f"{prefix}/{metric.name}", **({"labels": labels} if labels else {})},
                        "resource": monitored,
                        "metricKind": kind,
                        "points": [{"interval": interval, "value": _value(point)}],  # type: ignore[arg-type]
                    }
                    if metric.unit:
                        series["unit"] = metric.unit
                    yield series


def batches(series: Sequence[dict[str, Any]], size: int = MAX_SERIES_PER_REQUEST) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(series), size):
        yield series[start : start + size]


def _google_message(resp: httpx.Response) -> str:
    """Google's error message (https://cloud.google.com/apis/design/errors#http_mapping), else the body's start."""
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]


class CloudMonitoringExporter(MetricExporter):
    """Writes each collection to ``projects/<project>/timeSeries``; a failed call is logged (HTTP status and Google's
    message, never the token) and the collection reported failed to the SDK, which carries on at the next interval.

    ``endpoint``: the base URL of a fake of the API (tests), called without a token; None: Google's, with the
    metadata server's token."""

    def __init__(self, project: str, service: str, prefix: str, *, endpoint: str | None = None) -> None:
        super().__init__()  # CUMULATIVE temporality for every instrument, the SDK's default aggregations
        self.http, base, self.token = google_api_blocking(MONITORING_API, endpoint, 10.0)
        self.url = f"{base}/v3/projects/{project}/timeSeries"
        self.prefix = prefix
        self.resource = generic_task(service, self.http)
        self.clock = time.monotonic
        self._written_at: float | None = None

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **_: Any) -> MetricExportResult:
        now = self.clock()
        if self._written_at is not None and now - self._written_at < MIN_POINT_SPACING_S:
            # Monitoring would refuse every point of it (and log an error per instance shutdown); the cumulative
            # series lose only what was recorded since, less than 5 s, and the gauge's last value.
            log.info(
                "metrics export: skipped, %.1f s after the last one (one point per series every 5 s)",
                now - self._written_at,
            )
            return MetricExportResult.SUCCESS
        series = list(time_series(metrics_data, self.prefix, self.resource))
        ok = True
        for batch in batches(series):
            ok = self._write(batch) and ok
        if ok:
            self._written_at = now
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def _write(self, batch: Sequence[dict[str, Any]]) -> bool:
        try:
            headers = {"Authorization": f"Bearer {self.token.get_blocking()}"} if self.token else {}
            resp = self.http.post(self.url, json={"timeSeries": list(batch)}, headers=headers)
        except httpx.HTTPError as exc:  # the token's request too; neither message carries the token
            log.error("metrics export: %d time series not written: %s: %s", len(batch), type(exc).__name__, exc)
            return False
        if resp.is_success:
            return True
        log.error(
            "metrics export: %d time series not written: HTTP %d: %s",
            len(batch),
            resp.status_code,
            _google_message(resp),
        )
        return False

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True  # nothing is buffered: export writes before it returns

    def shutdown(self, timeout_millis: float = 30_000, **_: Any) -> None:
        self.http.close()
