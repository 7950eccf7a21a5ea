"""What exporting app metrics costs the service images: installed size and import cost of what ``start_export``
imports, now (the OpenTelemetry SDK and app/common/monitoring_api.py over httpx) and before (Google's exporter and
resource detector, the Monitoring client, gRPC), each against the same floor.

Size: the runtime dependency closure of each image's requirements (app/ai/requirements.txt plus ONNX Runtime, as
bench/ai_footprint.py resolves it; app/api/requirements.txt; auth's) as they are, with Google's packages added back
(before), and without any metrics package (no export at all), in MB.
Import: fresh interpreters importing what ``start_export`` imports, now and before, against the floor of a fresh
interpreter importing ``app.common.metrics`` alone (what every service imports; recording is a no-op until export
starts): CPU seconds (user + system, ``getrusage`` of the child) and wall seconds, the three alternated in each
round, medians of N. "before" needs Google's packages still installed in this venv (the shared venv keeps them).
Start path: a fresh interpreter importing ``app.api.main`` with the SDK importable and with it made unimportable
(redis-py try-imports the SDK when it is there; app/common/redispy.py makes that probe miss).
The imports run in this venv, or with ``--python`` in another: an image venv (bench/app_bench.py ``image_venv``,
plus Google's packages for "before") imports what an image would; the development venv also has optional extras
(rich and pygments, which httpx's command line imports when present) that the images lack.
Run: .venv/bin/python bench/metrics_cost.py [N] [--python /tmp/image-venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ai_footprint import after_requirements, closure  # noqa: E402

SDK = "opentelemetry-sdk"
GOOGLE_PACKAGES = (
    "opentelemetry-exporter-gcp-monitoring",
    "opentelemetry-resourcedetector-gcp",
    "google-cloud-monitoring",
    "grpcio",
)
"""What the images carried for Google's exporter until 2026-11-30 (git log -p app/api/requirements.txt)."""
FLOOR = "import app.common.metrics"
NOW = (
    "import app.common.metrics, opentelemetry.sdk.metrics, opentelemetry.sdk.metrics.export, app.common.monitoring_api"
)
BEFORE = (
    "import app.common.metrics, opentelemetry.sdk.metrics, opentelemetry.exporter.cloud_monitoring, "
    "opentelemetry.resourcedetector.gcp_resource_detector, google.cloud.monitoring_v3, grpc"
)
# The image without the metrics packages, as far as the start path can tell: the SDK cannot be imported.
WITHOUT_SDK = (
    "import importlib.abc, sys\n"
    "class NoSdk(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.partition('.')[0] == 'opentelemetry' and name.startswith('opentelemetry.sdk'):\n"
    "            raise ImportError(name)\n"
    "sys.meta_path.insert(0, NoSdk())\n"
)
START = "import sys, app.api.main\nassert 'opentelemetry.sdk' not in sys.modules"
MB = 1_048_576


PYTHON = [sys.executable]
"""The interpreter the imports are measured in (--python)."""


def _run(code: str) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([PYTHON[0], "-W", "ignore", "-c", code], cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def image_requirements(service: str) -> list[str]:
    lines = (ROOT / "app" / service / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def sizes(image: str, requirements: list[str]) -> str:
    now = closure(requirements)
    before = closure(requirements + list(GOOGLE_PACKAGES))
    bare = closure([r for r in requirements if not r.startswith(SDK)])
    n, b, w = (sum(c.values()) / MB for c in (now, before, bare))
    dropped = sorted(name for name in before if name not in now)
    return (
        f"| {image} runtime closure, before / now (no metrics packages: {w:.0f} MB) | {b:.0f} MB / {n:.0f} MB = "
        f"{n / b:.2f}x (-{b - n:.1f} MB: {', '.join(dropped)}; the SDK that stays is +{n - w:.1f} MB) |"
    )


def alternated(runs: int, codes: dict[str, str]) -> dict[str, tuple[float, float]]:
    """name -> (median wall, median CPU), the codes run in turn in each round."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for _ in range(runs):
        for name, code in codes.items():
            samples[name].append(_run(code))
    return {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for name, s in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="?", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure the imports in")
    args = parser.parse_args()
    runs, PYTHON[0] = args.runs, args.python
    load = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f}; imports in {args.python}")
    print("| measurement | result |\n|---|---|")
    print(sizes("ai", after_requirements()))
    print(sizes("api", image_requirements("api")))
    print(sizes("auth", image_requirements("auth")))
    _run(NOW), _run(BEFORE), _run(FLOOR)  # warm the page cache and the bytecode
    out = alternated(runs, {"floor": FLOOR, "now": NOW, "before": BEFORE})
    (fw, fc), (nw, nc), (bw, bc) = out["floor"], out["now"], out["before"]
    print(
        f"| importing what `start_export` imports, CPU s, median of {runs}: now / before / floor | {nc:.2f} / {bc:.2f} "
        f"/ {fc:.2f} = **{nc / fc:.1f}x / {bc / fc:.1f}x the floor** (+{nc - fc:.2f} s now, +{bc - fc:.2f} s before) |"
    )
    print(
        f"| the same, wall s | {nw:.2f} / {bw:.2f} / {fw:.2f} = {nw / fw:.1f}x / {bw / fw:.1f}x the floor "
        f"(+{nw - fw:.2f} s now, +{bw - fw:.2f} s before) |"
    )
    start = alternated(runs, {"without": WITHOUT_SDK + START, "with": START})
    (ow, oc), (iw, ic) = start["without"], start["with"]
    print(
        f"| api start path (`import app.api.main`), SDK installed / unimportable, median of {runs} | CPU {ic:.2f} / "
        f"{oc:.2f} s = {ic / oc:.2f}x; wall {iw:.2f} / {ow:.2f} s = {iw / ow:.2f}x |"
    )
    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
