"""What exporting app metrics costs the service images: installed size and import time of Google's exporter.

Size: the runtime dependency closure of each image's requirements (app/ai/requirements.txt plus ONNX Runtime, as
bench/ai_footprint.py resolves it; app/api/requirements.txt) with and without the metrics packages, as a ratio.
Import time: a fresh interpreter importing what ``start_export`` imports (OpenTelemetry SDK, Google's exporter and
resource detector, the Monitoring client, gRPC), against the floor of a fresh interpreter importing
``app.common.metrics`` alone (what every service imports; recording is a no-op until export starts). Start path:
a fresh interpreter importing ``app.api.main`` (what a cold start imports before it serves) with the metrics
packages installed, against the same with the OpenTelemetry SDK made unimportable (the image without them):
redis-py try-imports the SDK when it is there. Each pair alternated, median of N.
Run: .venv/bin/python bench/metrics_cost.py [N]
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
# The image without the metrics packages, as far as the start path can tell: the SDK cannot be imported.
WITHOUT_SDK = (
    "import importlib.abc, sys\n"
    "class NoSdk(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.partition('.')[0] == 'opentelemetry' and name.startswith('opentelemetry.sdk'):\n"
    "            raise ImportError(name)\n"
    "sys.meta_path.insert(0, NoSdk())\n"
)
START = "import sys, app.api.main\nassert ('opentelemetry.sdk' in sys.modules) is {}"
EXPORT = (
    "import app.common.metrics, opentelemetry.sdk.metrics, opentelemetry.exporter.cloud_monitoring, "
    "opentelemetry.resourcedetector.gcp_resource_detector, google.cloud.monitoring_v3, grpc"
)


def _seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def image_requirements(service: str) -> list[str]:
    lines = (ROOT / "app" / service / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _sizes(image: str, requirements: list[str]) -> None:
    mb = 1_048_576
    with_metrics = closure(requirements)
    without = closure([r for r in requirements if not r.startswith(METRICS_PACKAGES)])
    extra = {name: size for name, size in with_metrics.items() if name not in without}
    w, wo = sum(with_metrics.values()), sum(without.values())
    print(f"{image} runtime closure: {w / mb:.0f} MB with metrics export, {wo / mb:.0f} MB without = {w / wo:.2f}x "
          f"(+{(w - wo) / mb:.1f} MB: {', '.join(sorted(extra))})")  # fmt: skip


def _alternated(runs: int, floor_code: str, code: str) -> tuple[float, float]:
    floor, other = [], []
    for _ in range(runs):
        floor.append(_seconds(floor_code))
        other.append(_seconds(code))
    return statistics.median(floor), statistics.median(other)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    _sizes("ai", after_requirements())
    _sizes("api", image_requirements("api"))
    f, e = _alternated(runs, FLOOR, EXPORT)
    print(f"import, median of {runs}: floor {f:.2f} s, with the exporter {e:.2f} s = {e / f:.1f}x the floor "
          f"(+{e - f:.2f} s, paid only with METRICS_EXPORT on)")  # fmt: skip
    f, e = _alternated(runs, WITHOUT_SDK + START.format(False), START.format(True))
    print(f"api start path (import app.api.main), median of {runs}: without the SDK {f:.2f} s, with it installed "
          f"{e:.2f} s = {e / f:.2f}x (+{e - f:.2f} s, redis-py imports the SDK when present)")  # fmt: skip


if __name__ == "__main__":
    main()
