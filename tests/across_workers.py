"""What one xdist worker produced, handed to the others: `make test` runs the unit part on both cores (pytest-xdist,
`-n 2`), each worker a process of its own, so a plan or a program run that one worker made is kept as bytes in a
directory the controller creates for the session (tests/conftest.py ``pytest_configure_node``), under a lock per
variant: every variant still runs once per test run.

No pytest here: tests/test_fixtures.py runs it in processes of their own, as two workers would (importing pytest
and the conftest cost ~0.35 s of each start).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

shared_dir: Path | None = None
"""The session's directory of kept variants; None outside xdist (each variant is then produced where asked)."""


def _shared_path(directory: Path, key: str) -> Path:
    return directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pickle"


def once(key: str, produce: Callable[[], bytes]) -> bytes:
    """``produce()``, or what another worker of this run produced under ``key``; a ``produce`` that raises keeps
    nothing (the next caller, in whichever worker, runs it again and sees the error itself)."""
    if shared_dir is None:
        return produce()
    from filelock import FileLock

    path = _shared_path(shared_dir, key)
    with FileLock(f"{path}.lock"):
        if path.is_file():
            return path.read_bytes()
        value = produce()
        partial = path.with_suffix(".partial")
        partial.write_bytes(value)
        partial.replace(path)
        return value


def ready_elsewhere(key: str) -> bool:
    """Whether ``key`` is produced or being produced by another worker (never waits): for spreading warm-up work."""
    if shared_dir is None:
        return False
    from filelock import FileLock, Timeout

    path = _shared_path(shared_dir, key)
    try:
        with FileLock(f"{path}.lock", timeout=0):
            return path.is_file()
    except Timeout:
        return True
