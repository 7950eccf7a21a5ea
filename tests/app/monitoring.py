"""Cloud Monitoring as the metrics tests see it: an in-process fake of its gRPC MetricService (the two calls
Google's exporter makes, with google-cloud-monitoring's own messages), and a Cloud Run instance as Google's resource
detector sees it. The fixtures over them (``monitoring``, ``on_cloud_run``) are in tests/app/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from google.api import metric_pb2
from google.cloud import monitoring_v3
from google.protobuf import empty_pb2
from opentelemetry.resourcedetector.gcp_resource_detector import _metadata


class FakeMonitoring:
    """google.monitoring.v3.MetricService, the two calls the exporter makes; keeps what it was sent."""

    def __init__(self) -> None:
        self.descriptors: dict[str, Any] = {}
        self.series: list[Any] = []
        self.names: set[str] = set()

    def create_metric_descriptor(self, request: Any, _context: Any) -> Any:
        self.names.add(request.name)
        self.descriptors[request.metric_descriptor.type] = request.metric_descriptor
        return request.metric_descriptor

    def create_time_series(self, request: Any, _context: Any) -> empty_pb2.Empty:
        self.names.add(request.name)
        self.series.extend(request.time_series)
        return empty_pb2.Empty()

    def by_type(self) -> dict[str, dict[tuple[tuple[str, str], ...], Any]]:
        """Metric type -> sorted metric labels -> the last series written with them."""
        found: dict[str, dict[tuple[tuple[str, str], ...], Any]] = {}
        for series in self.series:
            found.setdefault(series.metric.type, {})[tuple(sorted(series.metric.labels.items()))] = series
        return found

    def handler(self) -> grpc.GenericRpcHandler:
        def unary(method: Any, request_type: Any, serialize: Any) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                method, request_deserializer=request_type.deserialize, response_serializer=serialize
            )

        return grpc.method_handlers_generic_handler(
            "google.monitoring.v3.MetricService",
            {
                "CreateMetricDescriptor": unary(
                    self.create_metric_descriptor,
                    monitoring_v3.CreateMetricDescriptorRequest,
                    metric_pb2.MetricDescriptor.SerializeToString,
                ),
                "CreateTimeSeries": unary(
                    self.create_time_series,
                    monitoring_v3.CreateTimeSeriesRequest,
                    empty_pb2.Empty.SerializeToString,
                ),
            },
        )


def value(point: Any) -> Any:
    """A point's value, whichever kind it is (int64, double, distribution)."""
    which = point.value._pb.WhichOneof("value")
    return getattr(point.value, which)


@contextmanager
def fake_monitoring() -> Iterator[tuple[FakeMonitoring, str]]:
    """The fake on a random local port: (its record, ``host:port``) for ``MONITORING_ENDPOINT``."""
    fake = FakeMonitoring()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([fake.handler()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def pose_as_cloud_run(monkeypatch: pytest.MonkeyPatch, service: str) -> dict[str, str]:
    """Make this process look like an instance of Cloud Run service ``grid-dev-<service>``: K_* variables and the
    metadata server. Returns the ``generic_task`` labels its points must carry."""
    name = f"grid-dev-{service}"
    revision = f"{name}-00007-xuz"
    for variable, setting in {"K_SERVICE": name, "K_REVISION": revision, "K_CONFIGURATION": name}.items():
        monkeypatch.setenv(variable, setting)
    instance = {"id": "00bf4bf02d", "region": "projects/123/regions/europe-west1", "zone": "", "attributes": {}}
    monkeypatch.setattr(_metadata, "is_available", lambda: True)
    monkeypatch.setattr(_metadata, "get_metadata", lambda: {"instance": instance, "project": {"projectId": "p"}})
    return {"job": name, "namespace": revision, "task_id": "00bf4bf02d", "location": "europe-west1"}
