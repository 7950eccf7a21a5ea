"""App metrics reach Cloud Monitoring: Grid's exporter (app/common/monitoring_api.py), pointed at an in-process fake
of the Monitoring REST API's timeSeries.create that enforces Google's documented rules (tests/app/monitoring.py),
delivers the points the services recorded, with the kinds the plan's dashboards read and the Cloud Run instance as
the resource."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.common import metrics
from app.common.cache import TwoLayerCache
from app.common.metrics import EXPORTED, METRICS, start_export
from app.common.middleware import RequestContextMiddleware
from app.common.monitoring_api import MONITORED_RESOURCE
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
    # The descriptors Monitoring would create from these writes: the kinds, value types and labels EXPORTED says
    # (and components/monitoring declares; tests/components/test_monitoring.py compares the two).
    assert {type_: (d["metricKind"], d["valueType"], d["labels"]) for type_, d in fake.descriptors.items()} == {
        spec.type: (spec.kind, spec.value_type, set(spec.labels)) for spec in EXPORTED
    }

    # Resource attribution: the Cloud Run service, revision, instance and region of the writer.
    for series in fake.series:
        assert series["resource"] == {"type": MONITORED_RESOURCE, "labels": resource}
        assert series.get("unit") == {spec.type: spec.unit for spec in EXPORTED}[series["metric"]["type"]]
    by_type = fake.by_type()

    latency = by_type[metrics.REQUEST_LATENCY.type]
    routes = {labels: value(s["points"][0]).count for labels, s in latency.items()}
    assert routes == {
        (("method", "GET"), ("response_code_class", "2xx"), ("route", "/items/{item_id}")): 3,
        (("method", "GET"), ("response_code_class", "4xx"), ("route", "unmatched")): 1,
    }
    distribution = value(
        latency[(("method", "GET"), ("response_code_class", "2xx"), ("route", "/items/{item_id}"))]["points"][0]
    )
    # The SDK's explicit buckets (0, 5, 10, ... 10000 ms) and one more for above: every request in one of them.
    assert (
        distribution.bounds[:3] == (0.0, 5.0, 10.0) and len(distribution.bucket_counts) == len(distribution.bounds) + 1
    )
    assert sum(distribution.bucket_counts) == 3 and distribution.mean > 0
    tokens = {labels: value(s["points"][0]) for labels, s in by_type[metrics.TOKENS.type].items()}
    assert tokens == {
        (("kind", "completion"), ("model", "gpt-test")): 15,
        (("kind", "prompt"), ("model", "gpt-test")): 40,
    }
    cache = {dict(labels)["result"]: value(s["points"][0]) for labels, s in by_type[metrics.CACHE_LOOKUPS.type].items()}
    assert cache == {"l1": 2, "miss": 1}
    (depth,) = by_type[metrics.QUEUE_DEPTH.type].values()
    assert value(depth["points"][0]) == 4
    # CUMULATIVE points carry their start time; GAUGE points are instants.
    assert all("startTime" in s["points"][0]["interval"] for s in latency.values())
    assert "startTime" not in depth["points"][0]["interval"]


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
    assert {s["metric"]["type"] for s in fake.series} == {metrics.TOKENS.type}


def test_metrics_export_needs_the_project() -> None:
    from app.common.settings import ServiceSettings

    with pytest.raises(ValueError, match="METRICS_EXPORT is on but GOOGLE_CLOUD_PROJECT is unset"):
        ServiceSettings(DATABASE_URL="postgresql://x/y", METRICS_EXPORT=True)  # type: ignore[call-arg]


def test_an_export_of_more_than_200_series_is_split_into_calls_monitoring_accepts(monitoring, on_cloud_run) -> None:
    """timeSeries.create takes at most 200 series a call (the fake refuses more): 450 series are three calls."""
    fake, endpoint = monitoring
    on_cloud_run("api")
    shutdown = start_export("grid-test", "api", endpoint=endpoint)
    try:
        for cache in range(450):
            METRICS.cache_lookup(f"grid:c{cache}", "miss")
    finally:
        shutdown()
    assert fake.requests == [200, 200, 50]
    assert len(fake.by_type()[metrics.CACHE_LOOKUPS.type]) == 450


def test_a_refused_export_is_logged_once_with_googles_answer_and_never_the_token(
    monitoring, on_cloud_run, monkeypatch, caplog
) -> None:
    """Google's endpoint, with the metadata server's token (the fake stands for both): the token is sent; a refused
    write is one error line with the status and Google's message, the token nowhere, and the service carries on."""
    from app.common import monitoring_api

    fake, base_url = monitoring
    resource = on_cloud_run("ai")
    monkeypatch.setattr(monitoring_api, "MONITORING_API", base_url)  # endpoint=None: as deployed, with a token
    monkeypatch.setattr(fake, "token", "ya29.secret-access-token")
    exporter = monitoring_api.CloudMonitoringExporter("grid-test", "ai", metrics.PREFIX)
    assert exporter.resource == resource

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

    reader = InMemoryMetricReader()
    counter = MeterProvider(metric_readers=[reader]).get_meter("t").create_counter(metrics.TOKENS.name, unit="1")
    counter.add(3, {"model": "m", "kind": "prompt"})
    collected = reader.get_metrics_data()
    assert exporter.export(collected) is MetricExportResult.SUCCESS
    assert [s["metric"]["type"] for s in fake.series] == [metrics.TOKENS.type]

    fake.fail_with = (403, "Permission monitoring.timeSeries.create denied (or the resource may not exist).")
    exporter.clock = lambda: time.monotonic() + 60  # the next interval, not a write within 5 s
    with caplog.at_level("DEBUG"):
        assert exporter.export(collected) is MetricExportResult.FAILURE
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        "metrics export: 1 time series not written: HTTP 403: Permission monitoring.timeSeries.create denied "
        "(or the resource may not exist)."
    ]
    assert "ya29" not in caplog.text
    exporter.shutdown()


def test_off_cloud_run_the_series_still_have_a_writer_of_their_own(monkeypatch) -> None:
    """Without Cloud Run's variables (as the detector then): location global, a task per process, no metadata asked."""
    from app.common import monitoring_api

    for variable in ("K_SERVICE", "K_REVISION", "K_CONFIGURATION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # would refuse: it must not be asked
    with httpx.Client() as http:
        first, second = (monitoring_api.generic_task("api", http) for _ in range(2))
    assert first["job"] == "api" and first["location"] == "global" and first["namespace"] == ""
    assert first["task_id"] != second["task_id"]


def _series(kind: str = "CUMULATIVE", start: str | None = "2026-01-01T00:00:00Z", **change: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    interval = {"endTime": now, **({"startTime": start} if start else {})}
    series = {
        "metric": {"type": "custom.googleapis.com/grid/t", "labels": {"k": "v"}},
        "resource": {"type": "generic_task", "labels": {"location": "l", "namespace": "n", "job": "j", "task_id": "t"}},
        "metricKind": kind,
        "points": [{"interval": interval, "value": {"int64Value": "1"}}],
    }
    return {**series, **change}


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ([_series(metric={"type": f"custom.googleapis.com/grid/t{i}"}) for i in range(201)], "At most 200"),
        ([_series(), _series()], "Duplicate TimeSeries"),
        ([_series(points=[])], "exactly one point"),
        ([_series(kind="DELTA")], "metric kind 'DELTA'"),
        ([_series(metric={"type": "run.googleapis.com/x"})], "not a custom metric"),
        ([_series(resource={"type": "generic_task", "labels": {"job": "j"}})], "generic_task needs the labels"),
        ([_series(kind="GAUGE")], "GAUGE point's start time"),
        ([_series(start=None)], "CUMULATIVE point's start time"),
        (
            [
                _series(
                    points=[
                        {
                            "interval": {"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:01Z"},
                            "value": {"int64Value": "1"},
                        }
                    ]
                )
            ],
            "more than 25 hours in the past",
        ),
    ],
    ids=[
        "201 series",
        "duplicate",
        "no point",
        "DELTA",
        "not custom",
        "resource labels",
        "gauge interval",
        "cumulative interval",
        "too old",
    ],
)
def test_the_fake_refuses_what_monitoring_documents_it_refuses(monitoring, body, refusal) -> None:
    _, base_url = monitoring
    resp = httpx.post(f"{base_url}/v3/projects/grid-test/timeSeries", json={"timeSeries": body})
    assert resp.status_code == 400 and refusal in resp.json()["error"]["message"], resp.text


def test_the_fake_takes_one_point_per_series_every_5_s_and_keeps_kinds(monitoring) -> None:
    _, base_url = monitoring
    url = f"{base_url}/v3/projects/grid-test/timeSeries"
    assert httpx.post(url, json={"timeSeries": [_series()]}).status_code == 200
    again = httpx.post(url, json={"timeSeries": [_series()]})
    assert again.status_code == 400 and "more frequently" in again.json()["error"]["message"]
    other = _series(kind="GAUGE", start=None, resource={**_series()["resource"], "labels": {
        "location": "l", "namespace": "n", "job": "j", "task_id": "other"}})  # fmt: skip
    refused = httpx.post(url, json={"timeSeries": [other]})
    assert refused.status_code == 400 and "is a CUMULATIVE INT64 metric" in refused.json()["error"]["message"]


def test_an_export_within_5_s_of_the_last_is_skipped_not_refused(monitoring, on_cloud_run, caplog) -> None:
    """The flush at instance shutdown right after a periodic export: Monitoring takes one point per series every
    5 s, so writing it would be refused (an error per scaled-down instance); it is skipped instead."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

    from app.common import monitoring_api

    fake, endpoint = monitoring
    on_cloud_run("api")
    exporter = monitoring_api.CloudMonitoringExporter("grid-test", "api", metrics.PREFIX, endpoint=endpoint)
    now = [1000.0]
    exporter.clock = lambda: now[0]
    reader = InMemoryMetricReader()
    counter = MeterProvider(metric_readers=[reader]).get_meter("t").create_counter(metrics.TOKENS.name, unit="1")
    counter.add(3, {"model": "m", "kind": "prompt"})
    assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    now[0] += 4.9
    with caplog.at_level("INFO"):
        assert exporter.export(reader.get_metrics_data()) is MetricExportResult.SUCCESS
    assert fake.requests == [1] and not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "skipped, 4.9 s after the last one" in caplog.text
    exporter.shutdown()
