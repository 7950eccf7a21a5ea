"""A plan of an unchanged shipped stack file answered from elsewhere (the session's plans) instead of planned again:
what tests/grid/cli_run.py runs `grid` in-process with, and tests/grid/cli_main.py runs it in a process of its own
with. No pytest here: the processes import this module, and pytest would add ~0.15 s to each of their starts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PLANS_ENV = "GRID_TEST_SHARED_PLANS"  # a directory of {project}-{stack}.pickle, read by tests/grid/cli_main.py


def plan_file(directory: Path, project: str, stack: str) -> Path:
    return directory / f"{project}-{stack}.pickle"


@contextlib.contextmanager
def shared_shipped_plans(source: Callable[[str, str], Any]) -> Iterator[None]:
    """``grid.plan.make_plan`` answering a plan of an unchanged shipped stack file (its project's own directory)
    from ``source(stack, project)``, or planning it when that gives None; any other stack file is planned."""
    from grid import plan as plan_module

    real = plan_module.make_plan

    def make_plan(stack: str, root: Path | None = None, project: str = "grid") -> Any:
        spec = plan_module.project_spec(project)
        directory = Path(root or plan_module.project_root(spec)).resolve()
        if directory != Path(spec.root).resolve():
            return real(stack, root, project)
        plan_module.make_plan = real  # a source that plans (the session cache's first fill) plans for real
        try:
            plan = source(stack, project)
            return real(stack, root, project) if plan is None else plan
        finally:
            plan_module.make_plan = make_plan

    plan_module.make_plan = make_plan
    try:
        yield
    finally:
        plan_module.make_plan = real
