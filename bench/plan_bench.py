"""Wall time of `grid plan --stack prod --json` against the bare import of the pulumi_gcp modules it uses.

The floor is what any offline plan must pay: starting Python and importing the provider SDK modules the
program touches. Both are measured in fresh processes, alternating, in the same run; the report gives the
median of N runs each and the ratio (goal: plan within 1.3x of the floor).

    .venv/bin/python bench/plan_bench.py [--runs 7] [--stack prod] [--phases] [--also dev staging prod]
"""

from __future__ import annotations

import argparse
import json
import resource
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
    for planned in json.loads(out)["resources"]:
        package, module, name = planned["type"].split(":")
        if package in ("gcp", "random") and planned["custom"]:
            prefix = "pulumi_gcp" if package == "gcp" else "pulumi_random"
            classes.add(f"{prefix}.{module.split('/')[0]}.{name}" if package == "gcp" else f"{prefix}.{name}")
    return sorted(classes)


BREAKDOWN = """
import json, sys, time
t0 = time.perf_counter()
import pulumi, pulumi_gcp, pulumi_random
CLASSES
t1 = time.perf_counter()
from grid.engine import run_program
from grid.plan import make_plan, project_spec
from grid.stackfile import read_stack_file
import grid.policy_eval, grid.costing
t2 = time.perf_counter()
spec = project_spec()
stack_file = read_stack_file(spec.root, STACK)
settings = spec.plan_settings(stack_file)
t3 = time.perf_counter()
run = run_program(stack_file)
t4 = time.perf_counter()
resources = [r.to_json() for r in run.resources]
grid.policy_eval.evaluate(resources, settings.environment, settings.usage)
t5 = time.perf_counter()
grid.costing.price_plan(resources, settings.usage)
t6 = time.perf_counter()
print(json.dumps({"provider_imports": t1 - t0, "grid_imports": t2 - t1, "config": t3 - t2,
                  "program_run": t4 - t3, "policies": t5 - t4, "prices": t6 - t5}))
"""


def breakdown(stack: str, classes: list[str], runs: int) -> dict[str, float]:
    """Median seconds of each phase of a plan, in fresh processes (same interpreter, same machine)."""
    code = BREAKDOWN.replace("CLASSES", "; ".join(classes)).replace("STACK", repr(stack))
    samples = [
        json.loads(
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        )
        for _ in range(runs)
    ]
    return {key: round(statistics.median(s[key] for s in samples), 3) for key in samples[0]}


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``.

    The CPU time does not include waiting for a core, so its ratio holds on a machine shared with other jobs,
    where the wall time stretches with their load.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--phases", action="store_true", help="also time each phase in one process")
    parser.add_argument("--also", nargs="*", default=[], metavar="STACK", help="plan these alone and in one process")
    args = parser.parse_args()
    classes = resource_classes(args.stack)
    floor_cmd = [sys.executable, "-c", "import pulumi, pulumi_gcp, pulumi_random; " + "; ".join(classes)]
    plan_cmd = [sys.executable, "-m", "grid.cli", "plan", "--stack", args.stack, "--json"]
    timed(plan_cmd)  # warm the page cache and .pyc files once
    floors, plans = [], []
    for _ in range(args.runs):
        floors.append(timed(floor_cmd))
        plans.append(timed(plan_cmd))
    floor, plan = statistics.median(w for w, _ in floors), statistics.median(w for w, _ in plans)
    floor_cpu, plan_cpu = statistics.median(c for _, c in floors), statistics.median(c for _, c in plans)
    many: dict[str, float] = {}
    if args.also:  # several stacks in one process against each planned alone (CPU seconds, one run each)
        many["alone_cpu_s"] = round(sum(timed([*plan_cmd[:-3], "--stack", s, "--json"])[1] for s in args.also), 3)
        many["one_process_cpu_s"] = round(
            timed([*plan_cmd[:-3], *(a for s in args.also for a in ("--stack", s)), "--json"])[1], 3
        )
    phases = breakdown(args.stack, classes, args.runs) if args.phases else {}
    print(
        json.dumps(
            {
                "stack": args.stack,
                "runs": args.runs,
                "resource_classes": len(classes),
                "import_floor_s": round(floor, 3),
                "plan_s": round(plan, 3),
                "ratio": round(plan / floor, 2),
                "import_floor_cpu_s": round(floor_cpu, 3),
                "plan_cpu_s": round(plan_cpu, 3),
                "cpu_ratio": round(plan_cpu / floor_cpu, 2),
                "several_stacks": many,
                "phases_s": phases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
