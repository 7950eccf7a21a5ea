"""Wall and CPU time of `grid plan --stack prod --json` against the bare import of the provider classes it uses.

The floor is what any offline plan must pay: starting Python, importing pulumi and every provider SDK the plan
registers resources of (pulumi-gcp, -random, -tls, -docker-build, pulumiverse-time, ...) and touching each
class. Both are measured in fresh processes, alternating, in the same run; the report gives the median of N runs
each and the ratios, wall and CPU (goal: plan within 1.3x of the floor).

    .venv/bin/python bench/plan_bench.py [--runs 7] [--stack prod] [--phases] [--also dev staging prod]
        [--compare-floors] [--baseline DIR]

With ``--baseline DIR`` the phases (``--phases``) are timed for both checkouts in the same rounds, and the report
adds the median over rounds of (plan - baseline); every ratio is also given per round (``round_ratios``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Timed processes write and reuse .pyc files, as a user's `grid plan` does: the provider SDKs' modules were compiled
# when pip installed them, and the repo's must not be recompiled on every run only because the calling environment
# set PYTHONDONTWRITEBYTECODE (which would cost the plan ~0.2 CPU s a run that the floor never pays).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def plan_types(stack: str) -> list[str]:
    """The type token of every provider resource (``custom``) a plan of ``stack`` registers, read from a real plan."""
    out = subprocess.run(
        [sys.executable, "-m", "grid.cli", "plan", "--stack", stack, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted({planned["type"] for planned in json.loads(out)["resources"] if planned["custom"]})


def provider_sdks() -> dict[str, str]:
    """Pulumi package name (a type token's first part, e.g. ``docker-build``) -> the Python package of its SDK.

    Every generated provider SDK ships a ``pulumi-plugin.json`` at its top level naming the package it serves
    (``pulumi_gcp`` serves ``gcp``, ``pulumiverse_time`` serves ``time``), so no name is guessed from another.
    """
    sdks: dict[str, str] = {}
    for entry in sys.path:
        directory = Path(entry or ".")
        if directory.is_dir():
            for plugin in directory.glob("*/pulumi-plugin.json"):
                name = json.loads(plugin.read_text()).get("name")
                if name:
                    sdks.setdefault(name, plugin.parent.name)  # sys.path order: the first wins, as for imports
    return sdks


class UnmappedType(Exception):
    """A planned type token no installed provider SDK registers a class for: the floor would leave it out."""


def resource_classes(types: list[str]) -> list[str]:
    """``module.Class`` of each provider resource type, exactly as its SDK maps the type token to a class.

    Importing a provider SDK registers each of its modules with the Pulumi runtime (the map the SDK itself uses to
    rehydrate a resource from its URN): type token -> (module, class name). Providers themselves
    (``pulumi:providers:gcp``) are registered per package. Each class found is checked to be the provider
    resource class it claims to be; a type that cannot be mapped raises, so the floor never silently shrinks.
    """
    import importlib

    import pulumi
    from pulumi.runtime import rpc

    sdks = provider_sdks()
    classes = set()
    for token in types:
        package, module, name = token.split(":")
        provider = package == "pulumi" and module == "providers"
        sdk = sdks.get(name if provider else package)
        if sdk is None:
            raise UnmappedType(f"{token}: no installed provider SDK declares package {name if provider else package!r}")
        importlib.import_module(sdk)  # registers the SDK's modules and package with the runtime
        if provider:
            registered = rpc.get_resource_package(name, "")
            info = getattr(registered, "pkg_info", None) or {}
            fqn = info.get("fqn")
            class_name = info.get("class") if info.get("token") == token else None
        else:
            registered = rpc.get_resource_module(package, module, "")
            info = getattr(registered, "mod_info", None) or {}
            fqn, class_name = info.get("fqn"), info.get("classes", {}).get(token)
        if not fqn or not class_name:
            raise UnmappedType(f"{token}: {sdk} registers no class for this type")
        cls = getattr(importlib.import_module(fqn), class_name, None)
        base = pulumi.ProviderResource if provider else pulumi.CustomResource
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise UnmappedType(f"{token}: {fqn}.{class_name} is not a {base.__name__} class")
        classes.add(f"{fqn}.{class_name}")
    return sorted(classes)


def floor_code(classes: list[str], *, paused_gc: bool = True) -> str:
    """Python source of the floor: import pulumi and each provider SDK, touch every class (lazy submodules load).

    ``paused_gc``: under the collector regime of `grid plan`: the cyclic collector paused while it works (grid/plan.py
    pauses it for the whole plan, inside which the provider SDKs are first imported) and the heap frozen before the
    process ends (grid/cli.py ``entry``). A plan must not be credited with sparing itself collector passes over the
    imports, or the shutdown's collections, which the floor would be spared just the same."""
    sdks = sorted({c.split(".")[0] for c in classes})
    imports = [f"import {', '.join(['pulumi', *sdks])}", *classes]
    return "; ".join(["import gc", "gc.disable()", *imports, "gc.freeze()"] if paused_gc else imports)


BREAKDOWN = """
import json, time
marks = [("start", time.perf_counter(), time.process_time())]
def phase_done(name):
    marks.append((name, time.perf_counter(), time.process_time()))
FLOOR
phase_done("provider_imports")
import grid.cli, grid.costing, grid.policy_eval, grid.secret_exposure
from grid.plan import make_plan
phase_done("grid_imports")
make_plan(STACK, phase_done=phase_done)
print(json.dumps({name: [wall - marks[i][1], cpu - marks[i][2]] for i, (name, wall, cpu) in enumerate(marks[1:])}))
"""


def breakdown(stack: str, classes: list[str], runs: int, roots: dict[str, Path]) -> dict[str, dict]:
    """Median wall and CPU seconds of each phase of a plan, in fresh processes (same interpreter, same machine):
    the floor's imports, grid's own, then each phase of ``make_plan`` (grid/plan.py) as it reports its end.

    With several checkouts (``roots``: name -> directory) they run alternately in the same rounds, and each gets
    ``above_floor``: the median over runs of everything after the floor's imports, the part a plan can change."""
    code = BREAKDOWN.replace("FLOOR", floor_code(classes)).replace("STACK", repr(stack))
    samples: dict[str, list[dict[str, list[float]]]] = {name: [] for name in roots}
    for _ in range(runs):
        for name, root in roots.items():
            done = subprocess.run(
                [sys.executable, "-c", code], cwd=root, env=ENV, capture_output=True, text=True, check=True
            )
            samples[name].append(json.loads(done.stdout))
    report: dict[str, dict] = {}
    for name, runs_of in samples.items():
        report[name] = {
            measure: {key: round(statistics.median(s[key][column] for s in runs_of), 3) for key in runs_of[0]}
            for column, measure in enumerate(("wall", "cpu"))
        }
        report[name]["above_floor"] = {
            measure: round(
                statistics.median(sum(v[column] for k, v in s.items() if k != "provider_imports") for s in runs_of), 3
            )
            for column, measure in enumerate(("wall", "cpu"))
        }
    return report


def timed(argv: list[str], cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``.

    The CPU time does not include waiting for a core, so its ratio holds on a machine shared with other jobs,
    where the wall time stretches with their load.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # check: a floor or plan that failed early would time as fast as it failed
    subprocess.run(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--phases", action="store_true", help="also time each phase in one process")
    parser.add_argument("--also", nargs="*", default=[], metavar="STACK", help="plan these alone and in one process")
    parser.add_argument(
        "--compare-floors",
        action="store_true",
        help="also time the floor with the collector running, and the floor as measured before 2026-11-30 "
        "(pulumi-gcp and pulumi-random classes only, collector running)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also time the plan of another checkout of the repo (e.g. main's), in the same rounds",
    )
    args = parser.parse_args()
    types = plan_types(args.stack)
    classes = resource_classes(types)
    floors = {"import_floor": [sys.executable, "-c", floor_code(classes)]}
    if args.compare_floors:
        old = resource_classes([t for t in types if t.split(":")[0] in ("gcp", "random")])
        floors["default_gc_import_floor"] = [sys.executable, "-c", floor_code(classes, paused_gc=False)]
        floors["old_import_floor"] = [sys.executable, "-c", floor_code(old, paused_gc=False)]
    plan_cmd = [sys.executable, "-m", "grid.cli", "plan", "--stack", args.stack, "--json"]
    plans = {"plan": ROOT, **({"baseline_plan": args.baseline.resolve()} if args.baseline else {})}
    for cwd in plans.values():
        timed(plan_cmd, cwd)  # warm the page cache (and .pyc files, where Python writes them) once
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in [*floors, *plans]}
    for _ in range(args.runs):  # alternating, so a change in the machine's load touches every measure alike
        for name, argv in floors.items():
            samples[name].append(timed(argv))
        for name, cwd in plans.items():
            samples[name].append(timed(plan_cmd, cwd))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}
    many: dict[str, float] = {}
    if args.also:  # several stacks in one process against each planned alone (CPU seconds, one run each)
        many["alone_cpu_s"] = round(sum(timed([*plan_cmd[:-3], "--stack", s, "--json"])[1] for s in args.also), 3)
        many["one_process_cpu_s"] = round(
            timed([*plan_cmd[:-3], *(a for s in args.also for a in ("--stack", s)), "--json"])[1], 3
        )
    phases = breakdown(args.stack, classes, args.runs, plans) if args.phases else {}
    report: dict[str, object] = {
        "stack": args.stack,
        "runs": args.runs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "resource_classes": len(classes),
    }
    for name in [*plans, *floors]:
        report[f"{name}_s"] = round(wall[name], 3)
        report[f"{name}_cpu_s"] = round(cpu[name], 3)
    for plan in plans:
        for floor in floors:
            prefix = f"{plan.removesuffix('plan')}{floor.removesuffix('import_floor')}"
            report[f"{prefix}ratio"] = round(wall[plan] / wall[floor], 2)
            report[f"{prefix}cpu_ratio"] = round(cpu[plan] / cpu[floor], 2)
    # Per round, then the median: on a shared machine the load drifts between rounds, and a plan and the floor
    # timed in the same round share it.
    report["round_ratios"] = {
        f"{plan}/{floor}": {
            measure: round(
                statistics.median(p[i] / f[i] for p, f in zip(samples[plan], samples[floor], strict=True)), 2
            )
            for i, measure in enumerate(("wall", "cpu"))
        }
        for plan in plans
        for floor in floors
    }
    if args.baseline:
        report["plan_minus_baseline_s"] = {
            measure: round(
                statistics.median(p[i] - b[i] for p, b in zip(samples["plan"], samples["baseline_plan"], strict=True)),
                3,
            )
            for i, measure in enumerate(("wall", "cpu"))
        }
    report |= {"several_stacks": many, "phases_s": phases}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
