"""Wall time of `grid plan --stack prod --json` against the bare import of the pulumi_gcp modules it uses.

The floor is what any offline plan must pay: starting Python and importing the provider SDK modules the
program touches. Both are measured in fresh processes, alternating, in the same run; the report gives the
median of N runs each and the ratio (goal: plan within 1.3x of the floor).

    .venv/bin/python bench/plan_bench.py [--runs 7] [--stack prod]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def resource_classes(stack: str) -> list[str]:
    """``module.Class`` of every provider resource a plan of ``stack`` registers, read from a real plan.

    pulumi_gcp loads its submodules lazily, so importing ``pulumi_gcp.compute`` costs nothing until a class is
    touched; the floor therefore touches each class the program instantiates, which executes the submodules.
    """
    out = subprocess.run(
        [sys.executable, "-m", "grid.cli", "plan", "--stack", stack, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    classes = set()
    for resource in json.loads(out)["resources"]:
        package, module, name = resource["type"].split(":")
        if package in ("gcp", "random") and resource["custom"]:
            prefix = "pulumi_gcp" if package == "gcp" else "pulumi_random"
            classes.add(f"{prefix}.{module.split('/')[0]}.{name}" if package == "gcp" else f"{prefix}.{name}")
    return sorted(classes)


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stack", default="prod")
    args = parser.parse_args()
    classes = resource_classes(args.stack)
    floor_cmd = [sys.executable, "-c", "import pulumi, pulumi_gcp, pulumi_random; " + "; ".join(classes)]
    plan_cmd = [sys.executable, "-m", "grid.cli", "plan", "--stack", args.stack, "--json"]
    timed(plan_cmd)  # warm the page cache and .pyc files once
    floors, plans = [], []
    for _ in range(args.runs):
        floors.append(timed(floor_cmd))
        plans.append(timed(plan_cmd))
    floor, plan = statistics.median(floors), statistics.median(plans)
    print(
        json.dumps(
            {
                "stack": args.stack,
                "runs": args.runs,
                "resource_classes": classes,
                "import_floor_s": round(floor, 3),
                "plan_s": round(plan, 3),
                "ratio": round(plan / floor, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
