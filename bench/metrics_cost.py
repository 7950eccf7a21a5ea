"""What exporting app metrics costs the ai image: installed size and import time of Google's exporter.

Size: the runtime dependency closure of app/ai/requirements.txt with and without the metrics packages
(bench/ai_footprint.py's resolver). Import time: a fresh interpreter importing what ``start_export`` imports
(OpenTelemetry SDK, Google's exporter and resource detector, the Monitoring client, gRPC), against the floor of
a fresh interpreter importing ``app.common.metrics`` alone (what every service imports; recording is a no-op
until export starts), alternated, median of N. Run: .venv/bin/python bench/metrics_cost.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ai_footprint import after_requirements, closure  # noqa: E402

METRICS_PACKAGES = (
    "opentelemetry-sdk",
    "opentelemetry-exporter-gcp-monitoring",
    "opentelemetry-resourcedetector-gcp",
    "google-cloud-monitoring",
    "grpcio",
)
FLOOR = "import app.common.metrics"
EXPORT = (
    "import app.common.metrics, opentelemetry.sdk.metrics, opentelemetry.exporter.cloud_monitoring, "
    "opentelemetry.resourcedetector.gcp_resource_detector, google.cloud.monitoring_v3, grpc"
)


def _seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    mb = 1_048_576
    with_metrics = closure(after_requirements())
    without = closure([r for r in after_requirements() if not r.startswith(METRICS_PACKAGES)])
    extra = {name: size for name, size in with_metrics.items() if name not in without}
    print(f"ai runtime closure: {sum(with_metrics.values()) / mb:.0f} MB with metrics export, "
          f"{sum(without.values()) / mb:.0f} MB without (+{sum(extra.values()) / mb:.1f} MB: "
          f"{', '.join(sorted(extra))})")  # fmt: skip
    floor, export = [], []
    for _ in range(runs):
        floor.append(_seconds(FLOOR))
        export.append(_seconds(EXPORT))
    f, e = statistics.median(floor), statistics.median(export)
    print(f"import, median of {runs}: floor {f:.2f} s, with the exporter {e:.2f} s = {e / f:.1f}x the floor "
          f"(+{e - f:.2f} s, paid only with METRICS_EXPORT on)")  # fmt: skip


if __name__ == "__main__":
    main()
