"""bench/unit_suite_bench.py times the unit part exactly as `make test` runs it."""

from __future__ import annotations

import shlex
import subprocess

from tests.bench import bench_module
from tests.conftest import REPO_ROOT


def test_the_bench_runs_the_unit_part_with_the_options_make_test_gives_it() -> None:
    dry_run = subprocess.run(["make", "-n", "-s", "test"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    pytest_runs = [shlex.split(line) for line in dry_run.stdout.splitlines() if " -m pytest" in line]
    assert len(pytest_runs) == 2, dry_run.stdout
    unit_suite_bench = bench_module("unit_suite_bench")
    unit, servers = (run[run.index("pytest") + 1 :] for run in pytest_runs)
    assert unit == unit_suite_bench.unit_options()
    assert unit[:2] == ["--part", "unit"] and servers == ["--part", "servers"]
    assert unit_suite_bench.suite_command()[3 : 3 + len(unit)] == unit
