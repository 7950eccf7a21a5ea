"""The app metrics that reach Cloud Monitoring, stated once: what each one is, and how the services record it.

The services record through ``METRICS``; recording is a no-op until ``start_export`` binds it to an
OpenTelemetry meter whose reader exports to Cloud Monitoring's REST API with Grid's own small exporter
(app/common/monitoring_api.py, which says why it is not Google's: Google's pulled in gRPC and the Monitoring client,
24-33 MB in each service image and about a CPU second of imports beside each cold start; bench/metrics_cost.py,
docs/benchmarks.md). The OpenTelemetry SDK is imported only when METRICS_EXPORT is on, in a thread beside startup
(app/common/app.py). Every service image installs it, and the stack turns it on for each (gridlib/workloads.py
``exports_metrics``).

Kinds follow what the exporter writes and what Monitoring accepts for custom metrics
(https://cloud.google.com/monitoring/api/v3/kinds-and-types): counters become CUMULATIVE (the API refuses DELTA
from clients, and a GAUGE point per event would break the one-point-per-5-s-per-series write limit,
https://cloud.google.com/monitoring/quotas), histograms CUMULATIVE DISTRIBUTION, observable gauges GAUGE.
components/monitoring.py declares the same descriptors and charts them; tests/components/test_monitoring.py
checks the plan reads exactly these types with aggregations their kinds allow.

Custom metrics cannot be written against ``cloud_run_revision``; a Cloud Run instance's points go to
``generic_task`` (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#custom-metric-resources):
``job`` is the service, ``task_id`` the instance, ``location`` the region, and ``namespace`` the revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger("app.metrics")

PREFIX = "custom.googleapis.com/grid"
"""Where the app's metric types live; ``custom.googleapis.com`` is the domain for user-defined metrics."""
MIN_EXPORT_INTERVAL_SECONDS = 10.0
"""Monitoring takes one point per time series every 5 s at most (https://cloud.google.com/monitoring/quotas); Google's
exporter asked for 10 s or more, which leaves room for the shutdown flush after a periodic export."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    """Path under PREFIX, also the OpenTelemetry instrument name."""
    kind: Literal["CUMULATIVE", "GAUGE"]
    value_type: Literal["INT64", "DISTRIBUTION"]
    unit: str
    labels: tuple[str, ...]
    description: str
    writers: tuple[str, ...] | None = None
    """The services that record it; None: every service (create_service_app's middleware records latency)."""

    @property
    def type(self) -> str:
        return f"{PREFIX}/{self.name}"

    def written_by(self, service: str) -> bool:
        """Whether ``service`` records it. (The service names come from the caller: app/ is deployed alone, so
        it cannot read the workload registry in gridlib/, which the images do not carry.)"""
        return self.writers is None or service in self.writers


REQUEST_LATENCY = MetricSpec(
    "http/server/latencies",
    "CUMULATIVE",
    "DISTRIBUTION",
    "ms",
    ("route", "method", "response_code_class"),
    "Server-side request latency by route template (never the raw path: bounded cardinality).",
)
TOKENS = MetricSpec(
    "ai/tokens",
    "CUMULATIVE",
    "INT64",
    "1",
    ("model", "kind"),
    "Tokens consumed by the ai service's completion calls, by model and prompt/completion. No user label: "
    "unbounded cardinality, and a per-user series would be personal data in Monitoring.",
    ("ai",),
)
CACHE_LOOKUPS = MetricSpec(
    "cache/lookups",
    "CUMULATIVE",
    "INT64",
    "1",
    ("cache", "result"),
    "Two-layer cache lookups by cache and result (l1, l2 or miss); hit ratio = (l1 + l2) / all.",
    ("api", "ai"),  # api's per-user reads, ai's embeddings; auth reads nothing through the cache
)
QUEUE_DEPTH = MetricSpec(
    "ai/embed_queue_depth",
    "GAUGE",
    "INT64",
    "1",
    (),
    "Embedding requests waiting for the model on one instance.",
    ("ai",),
)
EXPORTED: tuple[MetricSpec, ...] = (REQUEST_LATENCY, TOKENS, CACHE_LOOKUPS, QUEUE_DEPTH)


def status_class(status: int) -> str:
    """``2xx``..``5xx``, as Cloud Run's own ``response_code_class`` label."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class Metrics:
    """What the services record. Until ``bind`` every call is a dictionary lookup and nothing more."""

    def __init__(self) -> None:
        self._latency: Any = None
        self._tokens: Any = None
        self._cache: Any = None
        self._depths: dict[str, Callable[[], int]] = {}

    @property
    def bound(self) -> bool:
        return self._latency is not None

    def bind(self, meter: Any) -> None:
        def instrument(factory: Callable[..., Any], spec: MetricSpec, **extra: Any) -> Any:
            return factory(spec.name, unit=spec.unit, description=spec.description, **extra)

        self._latency = instrument(meter.create_histogram, REQUEST_LATENCY)
        self._tokens = instrument(meter.create_counter, TOKENS)
        self._cache = instrument(meter.create_counter, CACHE_LOOKUPS)
        instrument(meter.create_observable_gauge, QUEUE_DEPTH, callbacks=[self._observe_depth])

    def unbind(self) -> None:
        self._latency = self._tokens = self._cache = None

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        if self._latency is not None:
            attributes = {"route": route, "method": method, "response_code_class": status_class(status)}
            self._latency.record(seconds * 1000.0, attributes)

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        if self._tokens is not None:
            self._tokens.add(prompt, {"model": model, "kind": "prompt"})
            self._tokens.add(completion, {"model": model, "kind": "completion"})

    def cache_lookup(self, cache: str, result: Literal["l1", "l2", "miss"]) -> None:
        if self._cache is not None:
            self._cache.add(1, {"cache": cache, "result": result})

    def watch_queue(self, name: str, depth: Callable[[], int]) -> Callable[[], None]:
        """Report ``depth()`` as the queue-depth gauge; returns the function that stops it."""
        self._depths[name] = depth
        return lambda: self._depths.pop(name, None)  # type: ignore[return-value]

    def _observe_depth(self, _options: Any) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        depths = list(self._depths.values())
        # No queue on this service (api, auth): no series at all, rather than a constant 0 next to ai's.
        return [Observation(sum(depth() for depth in depths))] if depths else []


METRICS = Metrics()


def start_export(
    project: str,
    service: str,
    *,
    interval_seconds: float = 60.0,
    endpoint: str | None = None,
) -> Callable[[], None]:
    """Export METRICS to Cloud Monitoring in ``project`` every ``interval_seconds``; returns the shutdown, which
    flushes the last points. ``endpoint`` (a base URL, e.g. ``http://127.0.0.1:8123``) points it at a fake of the
    Monitoring API, called without a token."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from app.common.monitoring_api import CloudMonitoringExporter

    if interval_seconds < MIN_EXPORT_INTERVAL_SECONDS and endpoint is None:
        raise ValueError(f"METRICS_EXPORT_INTERVAL_SECONDS must be at least {MIN_EXPORT_INTERVAL_SECONDS:g}")
    exporter = CloudMonitoringExporter(project, service, PREFIX, endpoint=endpoint)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_seconds * 1000)
    provider = MeterProvider(metric_readers=[reader])
    METRICS.bind(provider.get_meter("grid.app"))

    def shutdown() -> None:
        METRICS.unbind()
        provider.shutdown()

    return shutdown
