"""`grid` run in the test process: ``grid.cli.main`` with its own argv, working directory, stdin and environment,
its stdout/stderr captured and its exit code (argparse's ``SystemExit`` included) returned as a
``subprocess.CompletedProcess``, so a test reads it exactly as it reads a subprocess run.

A fresh ``python -m grid.cli`` pays an interpreter start, the pulumi/pydantic imports and a whole stack plan
before it prints a line, which made these tests most of the unit suite's time (issue 15). In-process, a plan
of a shipped stack file that the run has not changed (the repo's own directory, no environment override) is the
session's ``shipped_plan`` copy, the same plan the other tests read; any other stack file (a test's temporary
project, a ``-C`` elsewhere) is planned for real. An uncaught exception propagates into the test
(with its traceback) instead of being printed, which is stricter than "no Traceback on stderr".

``run_grid_on_terminal`` runs it the same way on a real pseudo-terminal (colour, width, progress, the [yes/no]
question): file descriptors 0-2 and the sys streams are the terminal's for the run, which is all that rich and
``grid`` ask of a terminal; in a process of its own it paid ~1 CPU s of imports per run for nothing else.
What only a process shows stays a subprocess test (``run_grid_process``), each saying why: the
``python -m grid.cli`` entry point, PATH lookups of the Pulumi CLI and stdin from /dev/null.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, shipped_plan


@contextlib.contextmanager
def shared_shipped_plans() -> Iterator[None]:
    """``grid.plan.make_plan`` answering a plan of an unchanged shipped stack file (its project's own directory)
    with the session's ``shipped_plan``; any other stack file is planned."""
    from grid import plan as plan_module

    real = plan_module.make_plan

    def make_plan(stack: str, root: Path | None = None, project: str = "grid") -> Any:
        spec = plan_module.project_spec(project)
        directory = Path(root or plan_module.project_root(spec)).resolve()
        if directory != Path(spec.root).resolve():
            return real(stack, root, project)
        plan_module.make_plan = real  # the session cache's first fill plans for real
        try:
            return shipped_plan(stack, project=project)
        finally:
            plan_module.make_plan = make_plan

    plan_module.make_plan = make_plan
    try:
        yield
    finally:
        plan_module.make_plan = real


@contextlib.contextmanager
def _as_grid(
    args: tuple[str, ...], cwd: Path, env: Mapping[str, str | None] | None, shared_plans: bool
) -> Iterator[None]:
    """This process set up as ``grid ARGS`` would find it: argv, working directory, environment (``env`` layered on
    it, a value of None unsetting a variable), and a plan of an unchanged shipped stack answered by the session."""
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in (env or {}).items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        patch.chdir(cwd)  # `grid -C DIR` changes directory again; the context restores the test's
        patch.setattr(sys, "argv", ["grid", *args])
        if shared_plans:
            stack.enter_context(shared_shipped_plans())
        yield


def _exit_code(args: tuple[str, ...], err: Any) -> int:
    """``grid.cli.main(args)``'s exit code, argparse's ``SystemExit`` (--help, --version, usage errors) included."""
    from grid.cli import main

    try:
        return main(list(args))
    except SystemExit as exc:
        if isinstance(exc.code, str):
            err.write(exc.code + "\n")
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


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
    out, err = io.StringIO(), io.StringIO()
    with _as_grid(args, cwd, env, shared_plans), pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _exit_code(args, err)
    return subprocess.CompletedProcess(["grid", *args], code, out.getvalue(), err.getvalue())


QUESTION = b"[yes/no]"
END_OF_INPUT = b"\x04"  # the terminal's EOF character: at the start of a line, a read of the terminal returns nothing


def run_grid_on_terminal(
    *args: str,
    answer: str = "",
    columns: int = 120,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    deadline: float = 240,
) -> tuple[int, str]:
    """``grid ARGS`` in this process on a pseudo-terminal ``columns`` wide, typing ``answer`` when it asks
    [yes/no]: (exit code, what the terminal showed, its CRLFs as newlines). The terminal's own size decides the
    width (COLUMNS is unset). A question with no ``answer`` to type, or grid still running after ``deadline``
    seconds, gets the end of input (grid reads it as a no) instead of blocking the test's process forever."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    shown = bytearray()
    done = threading.Event()
    give_up_at = time.monotonic() + deadline

    def read() -> None:  # the other end of the terminal, drained while grid runs so that its writes never block
        answered = False
        while not done.is_set():
            if not answered and time.monotonic() > give_up_at:
                os.write(primary, END_OF_INPUT)
                answered = True
            if not select.select([primary], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: every descriptor of the terminal's side is closed
                return
            if not chunk:
                return
            shown.extend(chunk)
            if not answered and QUESTION in shown:
                os.write(primary, answer.encode() + b"\n" if answer else END_OF_INPUT)
                answered = True

    reader = threading.Thread(target=read, name="terminal", daemon=True)
    reader.start()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    streams = sys.stdin, sys.stdout, sys.stderr
    try:
        for fd in (0, 1, 2):
            os.dup2(secondary, fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - restored below
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        with _as_grid(args, cwd, {"COLUMNS": None, **(env or {})}, shared_plans=True):
            code = _exit_code(args, sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdin, sys.stdout, sys.stderr = streams
        for fd, copy in zip((0, 1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        _drained(primary)
        os.close(secondary)
        done.set()
        reader.join(timeout=30)
        if not reader.is_alive():  # else it still holds the descriptor: left open, never reused by a later test
            os.close(primary)
    assert not reader.is_alive(), "the terminal's reader did not stop"
    return code, shown.decode(errors="replace").replace("\r\n", "\n")


def _drained(primary: int, timeout: float = 30) -> None:
    """Wait until the reader took everything grid wrote: Linux may drop what is left once the terminal closes."""
    deadline = time.monotonic() + timeout
    pending = struct.pack("i", 0)
    while time.monotonic() < deadline and struct.unpack("i", fcntl.ioctl(primary, termios.FIONREAD, pending))[0]:
        time.sleep(0.01)


def run_grid_process(
    *args: str, cwd: Path = REPO_ROOT, env: Mapping[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python -m grid.cli ARGS`` as a fresh process reading /dev/null: for what only a process shows."""
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
