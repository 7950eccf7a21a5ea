"""Run any Python callable as a Pulumi program under the offline engine, for component tests.

The shipped stacks wire every component; a component test wants only its own resources. ``run_offline`` writes
a two-line program that calls the callable, and runs it with ``grid.engine.run_program`` (through tests/conftest.py,
the collector paused as ``grid plan`` pauses it) — the same mock runtime, fake cloud and recorder ``grid plan``
uses, so inputs are the camelCase wire form and secrets render as ``"[secret]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from grid.engine import Registration
from grid.stackfile import StackFile
from tests.conftest import Synth, run_program

T = TypeVar("T")

_PROGRAM = "import tests.components.offline_program as offline\noffline._pending()\n"
_pending: Callable[[], None] = lambda: None  # noqa: E731  (set by run_offline for the program to call)


class OfflineRun(Synth):
    """What one offline run registered: ``Synth``'s lookups by type and name, plus a component's children."""

    def children_of(self, component: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == component.urn]

    def descendants_of(self, component: Registration) -> list[Registration]:
        found, frontier = [], {component.urn}
        while frontier:
            children = [r for r in self.resources if r.parent in frontier]
            found += children
            frontier = {r.urn for r in children}
        return found


def run_offline(
    build: Callable[[], None],
    tmp_path: Path,
    *,
    project: str = "acme-grid-test",
    region: str = "us-central1",
    stack: str = "test",
) -> OfflineRun:
    """Run ``build`` (which creates components and may call ``pulumi.export``) as the program of ``stack``."""
    global _pending
    program = tmp_path / "offline_main.py"
    program.write_text(_PROGRAM)
    stack_file = StackFile(
        stack=stack,
        path=tmp_path / f"Pulumi.{stack}.yaml",
        values={"gcp:project": project, "gcp:region": region},
        secret_keys=frozenset(),
    )
    _pending = build
    try:
        run = run_program(stack_file, program=program)
    finally:
        _pending = lambda: None  # noqa: E731
    return OfflineRun(run)


def run_offline_catching(
    build: Callable[[], object], tmp_path: Path, **options: str
) -> tuple[Exception | None, OfflineRun]:
    """``run_offline`` of a ``build`` that may raise: what it raised (None: nothing), and what was registered
    all the same. The engine creates each resource as its registration arrives, so that is what a ``pulumi up``
    that died of the exception would have left behind."""
    raised: list[Exception] = []

    def program() -> None:
        try:
            build()
        except Exception as exc:  # what the program dies of; what it registered before is what is checked
            raised.append(exc)

    run = run_offline(program, tmp_path, **options)
    return (raised[0] if raised else None), run


def outside_any_program(build: Callable[[], T]) -> T:
    """``build()`` on a thread of its own: no Pulumi program, mock runtime or asyncio event loop there, whatever
    the tests before left behind in this one. A refusal of bad input must need none of them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(build).result()
