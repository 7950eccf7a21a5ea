"""``python -m tests.grid.cli_main ARGS``: ``python -m grid.cli ARGS`` for the tests that need a real process
(a pseudo-terminal, stdin), except that a plan of an unchanged shipped stack is the pickled session plan in
$GRID_TEST_SHARED_PLANS (tests/grid/cli_run.py ``shared_plans_env``) when there is one, so the process does
not plan the stack a second time. Everything else (argv, terminal, exit code) is the entry point's own."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any


def _pickled(stack: str, project: str) -> Any:
    from tests.grid.cli_run import PLANS_ENV, _plan_file

    directory = os.environ.get(PLANS_ENV)
    path = _plan_file(Path(directory), project, stack) if directory else None
    return pickle.loads(path.read_bytes()) if path and path.is_file() else None


if __name__ == "__main__":
    from grid.cli import main
    from tests.grid.cli_run import shared_shipped_plans

    with shared_shipped_plans(_pickled):
        code = main()
    sys.exit(code)
