"""The session caches behind ``synth`` and ``shipped_plan`` hand each test its own copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROD_VARIANT, REPO_ROOT, fresh, kept, shipped_plan

SQL = "gcp:sql/databaseInstance:DatabaseInstance"


def test_a_test_that_edits_its_synth_result_cannot_change_the_next_ones(synth) -> None:
    first = synth("dev")
    first.one(SQL).inputs["settings"]["tier"] = "edited"
    first.resources.clear()
    again = synth("dev")
    assert again.one(SQL).inputs["settings"]["tier"] != "edited"


def _min_instances(plan, service: str) -> int:
    run = plan.one("gcp:cloudrunv2/service:Service", f"-{service}-service")
    return run.inputs["template"]["scaling"]["minInstanceCount"]


def test_overrides_are_a_variant_of_their_own(synth) -> None:
    """The shared prod variant (a variant is a whole program run, so the suite asks for one)."""
    warm = PROD_VARIANT["grid:services"]["ai"]["minInstances"]
    assert _min_instances(synth("prod", PROD_VARIANT), "ai") == warm
    assert _min_instances(synth("prod"), "ai") != warm


def test_a_shipped_plan_is_copied_per_call() -> None:
    plan = shipped_plan("dev")
    plan.violations.append({"policy": "edited"})
    plan.run.resources.clear()
    again = shipped_plan("dev")
    assert again.run.resources and {"policy": "edited"} not in again.violations


def _mutables(value: Any, seen: dict[int, Any]) -> dict[int, Any]:
    """Every dict, list, set and object with attributes (``__dict__`` or slots) reachable from ``value``, by id."""
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, bool, type(None), type)):
            continue
        if isinstance(item, dict):
            seen[id(item)] = item
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, (list, set, tuple, frozenset)):
            if not isinstance(item, (tuple, frozenset)):
                seen[id(item)] = item
            stack += list(item)
        elif not callable(item):
            slots = [name for cls in type(item).__mro__ for name in getattr(cls, "__slots__", ())]
            attributes = [
                *getattr(item, "__dict__", {}).values(),
                *(getattr(item, n) for n in slots if hasattr(item, n)),
            ]
            if attributes:
                seen[id(item)] = item
                stack += attributes
    return seen


def test_a_kept_copy_is_the_same_plan_sharing_nothing_mutable() -> None:
    """What the caches hand out (``fresh(kept(...))``) equals what was planned, down to every resource, and no dict,
    list or object in it is one of the original's: editing one never reaches the other."""
    plan = shipped_plan("prod")
    copied = fresh(kept(plan))
    assert copied.to_json() == plan.to_json()
    assert copied.run.resources == plan.run.resources and copied.run.outputs == plan.run.outputs
    assert copied.violations == plan.violations
    original = _mutables(plan, {})
    assert all(id(r.inputs) in original and id(r.outputs) in original for r in plan.run.resources)
    shared = [type(original[i]).__name__ for i in _mutables(copied, {}) if i in original]
    assert not shared, f"objects shared with the original: {sorted(set(shared))}"


# Two xdist workers asking for one variant: the first produces it, the other waits for it and reads its bytes.
_WORKER = """
import sys, time
from pathlib import Path
from tests import across_workers
across_workers.shared_dir = Path(sys.argv[1])
def produce():
    with open(sys.argv[2], "a") as calls:
        calls.write("produced\\n")
    time.sleep(0.5)
    return b"the plan"
sys.stdout.write(across_workers.once("variant", produce).decode())
"""


def test_a_variant_is_produced_once_across_the_workers(tmp_path: Path) -> None:
    import subprocess
    import sys

    calls = tmp_path / "calls"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), str(calls)], cwd=REPO_ROOT, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert outputs == [b"the plan", b"the plan"]
    assert calls.read_text() == "produced\n"


def test_a_variant_that_raises_is_not_kept_across_the_workers(tmp_path: Path, monkeypatch) -> None:
    from tests import across_workers

    monkeypatch.setattr(across_workers, "shared_dir", tmp_path)

    def failing() -> bytes:
        raise ValueError("bad overrides")

    for _ in range(2):  # each caller sees the error itself
        with pytest.raises(ValueError, match="bad overrides"):
            across_workers.once("variant", failing)
    assert across_workers.once("variant", lambda: b"fixed") == b"fixed"


def test_the_files_kept_on_one_worker_exist() -> None:
    """A file renamed or moved would silently leave its SAME_WORKER group (and pay its imports on both workers)."""
    from tests.conftest import REPO_ROOT, SAME_WORKER

    assert all((REPO_ROOT / path).is_file() for path in SAME_WORKER)
    assert all(list(SAME_WORKER.values()).count(group) > 1 for group in SAME_WORKER.values())
