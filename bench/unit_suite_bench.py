"""Wall time of the unit part of the test suite against one `grid plan --stack prod`, measured in the same run.

The unit part is every test but the workloads' own code (the app services in tests/app, the jobs in tests/jobs) and
`grid local` (tests/grid/localcloud and the test_local*.py files that start real Postgres/Redis/servers): `pytest
--part unit` (tests/conftest.py, SERVER_TESTS), run exactly
as `make test` runs it, with the Makefile's UNIT_TESTS options (both cores, pytest-xdist). Its cost used to be
dominated by synthesising whole stacks again in most tests; the goal (issue 15) is that it runs in at most 6x one
`grid plan --stack prod`.

The floor is a fresh-process `grid plan --stack prod --json` (median of --plans runs, half of them before the
suite and half after, so a load change during the run moves both sides); the suite is one fresh pytest process
per --suites run (median). The machine is shared, so only the ratio carries over between runs; both wall and
CPU seconds (the process and its children, the xdist workers included) are reported. The CPU ratio is the steadier
under load, and says what the unit part costs whatever the cores: on two cores its wall time is about half of it.

    .venv/bin/python bench/unit_suite_bench.py [--plans 4] [--suites 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 6.0
# Both sides write and reuse bytecode, as `make test` (the Makefile clears PYTHONDONTWRITEBYTECODE for it) and a
# user's `grid plan` do; the suite's test modules are compiled by an untimed collection first, as the plan's modules
# are by the first plan.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, last output line) of ``command``. CPU time
    stretches far less than wall time when other work shares the cores, so its ratio is the steadier one on a
    busy machine. A failing run is still timed (a test that times out on a loaded machine must not throw the
    measurement away); its summary line says what failed."""
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=ENV)
    lines = (done.stdout or done.stderr).strip().splitlines()
    wall = time.perf_counter() - started
    return wall, _children_cpu() - cpu, f"exit {done.returncode}: {lines[-1] if lines else ''}"


def plan_seconds() -> tuple[float, float]:
    wall, cpu, outcome = _timed([sys.executable, "-m", "grid.cli", "plan", "--stack", "prod", "--json"])
    if not outcome.startswith("exit 0"):
        raise SystemExit(f"grid plan --stack prod failed: {outcome}")
    return wall, cpu


def unit_options() -> list[str]:
    """The options `make test` runs the unit part with (the Makefile's ``UNIT_TESTS := ...``)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        name, _, value = line.partition(":=")
        if name.strip() == "UNIT_TESTS":
            return shlex.split(value)
    raise SystemExit("the Makefile defines no UNIT_TESTS: bench/unit_suite_bench.py times what `make test` runs")


def suite_command() -> list[str]:
    return [sys.executable, "-m", "pytest", *unit_options(), "-q", "-p", "no:cacheprovider"]


def _report(label: str, plans: list[tuple[float, float, str]], runs: list[tuple[float, float, str]]) -> None:
    for index, what in enumerate(("wall", "CPU")):
        plan = statistics.median(p[index] for p in plans)
        suite = statistics.median(r[index] for r in runs)
        print(f"{what}: {label} (median of {len(runs)}): {suite:.2f} s  runs: {[round(r[index], 2) for r in runs]}")
        print(f"{what}: ratio {label} / plan: {suite / plan:.2f}x (goal <= {GOAL:.0f}x)")
    for *_, outcome in runs:
        print(f"  pytest {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=4, help="plan runs (at least 3), split around the suite")
    parser.add_argument("--suites", type=int, default=1, help="suite runs")
    parser.add_argument(
        "--one-process", action="store_true", help="also time the unit part in one process (-n 0), in the same rounds"
    )
    args = parser.parse_args()
    plans = [plan_seconds() for _ in range(max(args.plans, 3) // 2)]
    _timed([*suite_command(), "--collect-only", "-n", "0"])
    runs, alone = [], []
    for _ in range(args.suites):
        runs.append(_timed(suite_command()))
        if args.one_process:
            alone.append(_timed([*suite_command(), "-n", "0"]))
    plans += [plan_seconds() for _ in range(max(args.plans, 3) - len(plans))]
    for index, what in enumerate(("wall", "CPU")):
        plan = statistics.median(p[index] for p in plans)
        print(f"{what}: grid plan --stack prod (median of {len(plans)}): {plan:.2f} s  runs: "
              f"{[round(p[index], 2) for p in plans]}")  # fmt: skip
    _report("unit suite as make test runs it", plans, runs)
    if alone:
        _report("unit suite in one process", plans, alone)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
