"""``python -m tests.grid.cli_main ARGS``: ``python -m grid.cli ARGS`` for the tests that need a real process
(a pseudo-terminal, stdin), except that a plan of an unchanged shipped stack is the pickled session plan in
$GRID_TEST_SHARED_PLANS (tests/grid/cli_run.py ``shared_plans_env``, tests/grid/shared_plans.py) when there is one, so the process does
not plan the stack a second time. Everything else (argv, terminal, exit code) is the entry point's own."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

from tests.grid.shared_plans import PLANS_ENV, plan_file, shared_shipped_plans


def _pickled(stack: str, project: str) -> Any:
    directory = os.environ.get(PLANS_ENV)
    path = plan_file(Path(directory), project, stack) if directory else None
    return pickle.loads(path.read_bytes()) if path and path.is_file() else None


if __name__ == "__main__":
    from grid.cli import main

    with shared_shipped_plans(_pickled):
        code = main()
    sys.exit(code)
