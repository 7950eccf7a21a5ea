"""Importing redis-py without its probe for the OpenTelemetry SDK.

redis-py 8 has its own optional OpenTelemetry instrumentation (``redis.observability``, turned on only by calling
its ``init`` with an ``OTelConfig``). To know whether it could be turned on, ``redis.observability.providers``
try-imports ``opentelemetry.sdk.metrics`` at import time, and ``redis.asyncio`` imports that module, so every
process that imports redis-py with the SDK installed imports the SDK's metrics package: about 0.04 CPU s of a
service's cold start (docs/benchmarks.md, "Cold starts against their floors"). redis-py has no setting to skip it.

Grid never turns redis-py's instrumentation on. The service images carry the SDK for app/common/metrics.py's
exporter, which imports it itself, with METRICS_EXPORT on, in a thread beside startup (app/common/app.py). So the
probe is made to miss while redis-py is imported (a ``None`` entry in ``sys.modules`` makes that one import raise
ImportError, the case redis-py handles as "SDK not installed"), and the entry is removed right after, so the
exporter imports the real SDK later. If the SDK is already loaded there is nothing to save and nothing is done.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

OTEL_SDK_PROBE = "opentelemetry.sdk.metrics"
"""The module redis-py try-imports at import time (redis/observability/providers.py)."""


@contextmanager
def without_otel_sdk_probe() -> Iterator[None]:
    """Within the block, ``import opentelemetry.sdk.metrics`` fails unless the SDK is already loaded."""
    if OTEL_SDK_PROBE in sys.modules:
        yield
        return
    sys.modules[OTEL_SDK_PROBE] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if OTEL_SDK_PROBE in sys.modules and sys.modules[OTEL_SDK_PROBE] is None:
            del sys.modules[OTEL_SDK_PROBE]
