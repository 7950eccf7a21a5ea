"""App metrics reach Cloud Monitoring: Google's exporter, pointed at an in-process fake of the Monitoring gRPC API
(CreateMetricDescriptor, CreateTimeSeries from google-cloud-monitoring's own messages), delivers the points the
services recorded, with the kinds the plan's dashboards read and the Cloud Run instance as the resource."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from google.api import metric_pb2

from app.common import metrics
from app.common.cache import TwoLayerCache
from app.common.metrics import EXPORTED, METRICS, start_export
from app.common.middleware import RequestContextMiddleware
from tests.app.monitoring import value


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024, access_log=False)
    return app


async def _record_some() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for item in (1, 2, 3):
            assert (await client.get(f"/items/{item}")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    cache = TwoLayerCache(None, l1_ttl=60, l2_ttl=60, namespace="grid:test:cache")

    async def load() -> int:
        return 1

    for _ in range(3):
        await cache.get_or_load("k", load)  # one miss, then two L1 hits
    METRICS.tokens("gpt-test", 30, 12)
    METRICS.tokens("gpt-test", 10, 3)


def test_recorded_metrics_arrive_in_cloud_monitoring_as_the_plan_reads_them(monitoring, on_cloud_run) -> None:
    fake, endpoint = monitoring
    resource = on_cloud_run("ai")
    shutdown = start_export("grid-test", "ai", endpoint=endpoint)
    stop_watching = METRICS.watch_queue("embed", lambda: 4)
    try:
        asyncio.run(_record_some())
    finally:
        shutdown()  # collects and exports once more: the last points are not lost at instance shutdown
        stop_watching()
    assert not METRICS.bound

    assert fake.names == {"projects/grid-test"}
    specs = {spec.type: spec for spec in EXPORTED}
    assert set(fake.descriptors) == set(specs)
    for type_, descriptor in fake.descriptors.items():
        spec = specs[type_]
        assert metric_pb2.MetricDescriptor.MetricKind.Name(descriptor.metric_kind) == spec.kind, type_
        assert metric_pb2.MetricDescriptor.ValueType.Name(descriptor.value_type) == spec.value_type, type_
        assert {label.key for label in descriptor.labels} == set(spec.labels), type_

    # Resource attribution: the Cloud Run service, revision, instance and region of the writer.
    for series in fake.series:
        assert series.resource.type == metrics.MONITORED_RESOURCE
        assert dict(series.resource.labels) == resource
    by_type = fake.by_type()

    latency = by_type[metrics.REQUEST_LATENCY.type]
    routes = {labels: value(s.points[0]).count for labels, s in latency.items()}
    assert routes == {
        (("method", "GET"), ("response_code_class", "2xx"), ("route", "/items/{item_id}")): 3,
        (("method", "GET"), ("response_code_class", "4xx"), ("route", "unmatched")): 1,
    }
    tokens = {labels: value(s.points[0]) for labels, s in by_type[metrics.TOKENS.type].items()}
    assert tokens == {
        (("kind", "completion"), ("model", "gpt-test")): 15,
        (("kind", "prompt"), ("model", "gpt-test")): 40,
    }
    cache = {dict(labels)["result"]: value(s.points[0]) for labels, s in by_type[metrics.CACHE_LOOKUPS.type].items()}
    assert cache == {"l1": 2, "miss": 1}
    (depth,) = by_type[metrics.QUEUE_DEPTH.type].values()
    assert value(depth.points[0]) == 4
    # CUMULATIVE points carry their start time; GAUGE points are instants.
    assert all(s.points[0].interval.start_time for s in latency.values())


def test_recording_without_export_is_a_no_op() -> None:
    assert not METRICS.bound
    asyncio.run(_record_some())  # nothing bound: no exporter imported, nothing kept


def test_export_interval_below_what_monitoring_accepts_is_refused() -> None:
    with pytest.raises(ValueError, match="METRICS_EXPORT_INTERVAL_SECONDS must be at least 10"):
        start_export("grid-test", "ai", interval_seconds=1)


def test_a_service_with_metrics_export_on_exports_while_it_runs_and_flushes_at_shutdown(
    monitoring, on_cloud_run
) -> None:
    """What create_service_app's lifespan does with METRICS_EXPORT: start beside startup, flush at the end."""
    from types import SimpleNamespace

    from app.common.app import exported_metrics

    fake, endpoint = monitoring
    on_cloud_run("ai")
    settings = SimpleNamespace(
        metrics_export=True,
        google_cloud_project="grid-test",
        metrics_export_interval_seconds=60.0,
        monitoring_endpoint=endpoint,
    )

    async def serve() -> None:
        async with exported_metrics(settings, "ai"):  # type: ignore[arg-type]
            for _ in range(200):  # the export starts in a thread; the service does not wait for it
                if METRICS.bound:
                    break
                await asyncio.sleep(0.05)
            METRICS.tokens("gpt-test", 7, 1)

    asyncio.run(serve())
    assert not METRICS.bound
    assert {s.metric.type for s in fake.series} == {metrics.TOKENS.type}


def test_metrics_export_needs_the_project() -> None:
    from app.common.settings import ServiceSettings

    with pytest.raises(ValueError, match="METRICS_EXPORT is on but GOOGLE_CLOUD_PROJECT is unset"):
        ServiceSettings(DATABASE_URL="postgresql://x/y", METRICS_EXPORT=True)  # type: ignore[call-arg]
