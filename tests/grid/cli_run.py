"""`grid` run in the test process: ``grid.cli.main`` with its own argv, working directory, stdin and environment,
its stdout/stderr captured and its exit code (argparse's ``SystemExit`` included) returned as a
``subprocess.CompletedProcess``, so a test reads it exactly as it reads a subprocess run.

A fresh ``python -m grid.cli`` pays an interpreter start, the pulumi/pydantic imports and a whole stack plan
before it prints a line, which made these tests most of the unit suite's time (issue 15). In-process, a plan
of a shipped stack file that the run has not changed (the repo's own directory, no environment override) is the
session's ``shipped_plan`` copy, the same plan the other tests read; any other stack file (a test's temporary
project, a ``-C`` elsewhere) is planned for real. An uncaught exception propagates into the test
(with its traceback) instead of being printed, which is stricter than "no Traceback on stderr".

What only a process shows stays a subprocess test, each saying why: a real terminal (pty: colour, width,
prompts), the ``python -m grid.cli`` entry point, PATH lookups of the Pulumi CLI and stdin handling. Where such
a process plans a shipped stack, ``shared_plans_env`` hands it the session's plans (pickled; read by
tests/grid/cli_main.py, which then runs ``grid.cli.main`` as the entry point does), so it too skips planning.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, shipped_plan
from tests.grid.shared_plans import PLANS_ENV, plan_file, shared_shipped_plans


def _session_plan(stack: str, project: str) -> Any:
    return shipped_plan(stack, project=project)


_PLANS_DIR: Path | None = None


def shared_plans_env(*stacks: str, project: str = "grid") -> dict[str, str]:
    """Environment that makes ``python -m tests.grid.cli_main`` answer a plan of these unchanged shipped stacks
    with the session's plan instead of planning again."""
    global _PLANS_DIR
    if _PLANS_DIR is None:
        _PLANS_DIR = Path(tempfile.mkdtemp(prefix="grid-test-plans-"))
        atexit.register(shutil.rmtree, _PLANS_DIR, ignore_errors=True)
    for stack in stacks:
        path = plan_file(_PLANS_DIR, project, stack)
        if not path.exists():
            path.write_bytes(pickle.dumps(shipped_plan(stack, project=project)))
    return {PLANS_ENV: str(_PLANS_DIR)}


def run_grid(
    *args: str,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    shared_plans: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``grid ARGS`` in this process, in ``cwd``, with ``env`` layered on the environment and ``stdin`` as its
    (non-terminal) input. ``shared_plans=False`` plans every stack for real: for a test of planning itself, or
    one whose ``env`` changes what a plan of the repo's own stack file holds."""
    from grid.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.chdir(cwd)  # `grid -C DIR` changes directory again; the context restores the test's
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        patch.setattr(sys, "argv", ["grid", *args])
        if shared_plans:
            stack.enter_context(shared_shipped_plans(_session_plan))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                err.write(exc.code + "\n")
    return subprocess.CompletedProcess(["grid", *args], code, out.getvalue(), err.getvalue())


def run_grid_process(
    *args: str, cwd: Path = REPO_ROOT, env: Mapping[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python -m grid.cli ARGS`` as a fresh process with stdin closed: for what only a process shows."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "grid.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
