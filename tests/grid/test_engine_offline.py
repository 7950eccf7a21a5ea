"""grid.engine's offline run skips the SDK work only the real engine reads, and gives the SDK back afterwards."""

from __future__ import annotations

import traceback
from pathlib import Path

import pulumi
import pulumi_random
from pulumi.runtime import resource as pulumi_resource

from tests.components.offline_program import run_offline


def test_offline_run_registers_without_walking_the_stack_and_restores_the_sdk(tmp_path: Path, monkeypatch) -> None:
    walks: list[int] = []
    real_extract = traceback.extract_stack
    monkeypatch.setattr(traceback, "extract_stack", lambda *a, **k: (walks.append(1), real_extract(*a, **k))[1])
    sdk_trace = pulumi_resource._get_stack_trace

    def build() -> None:
        pet = pulumi_random.RandomPet("pet", length=2)
        pulumi.export("pet", pet.id)

    run = run_offline(build, tmp_path)
    assert [r.name for r in run.of_type("random:index/randomPet:RandomPet")] == ["pet"]
    assert walks == []  # the SDK walks (and reads the source of) the whole stack once per resource otherwise
    assert pulumi_resource._get_stack_trace is sdk_trace


class _Node:
    """Stands for a Resource: the cycle breaker only keeps a set attribute on it."""


def test_the_offline_cycle_breaker_answers_and_records_as_the_sdks() -> None:
    # Every edge of a dense random graph declared in a random order (a third of them twice), by the SDK's
    # function on one copy and the offline one on the other: the same edges refused (cycles) and kept.
    import random

    from pulumi.runtime import resource_cycle_breaker as sdk

    from grid.engine import _declare_dependency

    rng = random.Random(13)
    for _ in range(20):
        size = rng.randint(2, 12)
        theirs, ours = [_Node() for _ in range(size)], [_Node() for _ in range(size)]
        edges = [(rng.randrange(size), rng.randrange(size)) for _ in range(size * 3)]
        edges += rng.sample(edges, len(edges) // 3)
        for a, b in edges:
            assert sdk.declare_dependency(theirs[a], theirs[b]) == _declare_dependency(ours[a], ours[b])
        for their, our in zip(theirs, ours, strict=True):
            assert {theirs.index(n) for n in sdk._deps(their)} == {ours.index(n) for n in sdk._deps(our)}


def test_the_offline_unknowns_check_answers_as_the_sdks() -> None:
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    from grid.engine import _contains_unknowns

    unknown = Unknown()
    shared: dict = {"a": [1, {"b": "x"}]}
    looped: dict = {"k": 1}
    looped["self"] = looped
    looped_unknown: list = [1]
    looped_unknown.append(looped_unknown)
    looped_unknown.append({"u": unknown})
    values = [
        None, 1, "s", unknown, [], {}, [unknown], {"a": {"b": [1, 2, {"c": unknown}]}}, {"a": {"b": [1, 2, 3]}},
        [shared, shared], looped, looped_unknown, (unknown,), {"t": (unknown,)}, [[[[unknown]]]],
    ]  # fmt: skip
    for value in values:
        assert _contains_unknowns(value) == rpc.contains_unknowns(value), value


def test_the_offline_run_gives_the_sdks_functions_back(tmp_path: Path) -> None:
    from pulumi.runtime import rpc
    from pulumi.runtime import stack as pulumi_stack

    def sdk() -> tuple:
        return (
            rpc.declare_dependency,
            rpc.contains_unknowns,
            pulumi_stack.wait_for_rpcs,
            pulumi_resource._get_stack_trace,
        )

    before = sdk()
    run_offline(lambda: pulumi_random.RandomPet("pet", length=2), tmp_path)
    assert sdk() == before


def test_an_offline_run_leaves_no_garbage_cycle_per_unknowns_check(tmp_path: Path) -> None:
    """What the collector has to free after a run: nothing left by checking values for unknowns."""
    import gc

    def build() -> None:
        pets = [pulumi_random.RandomPet(f"pet{i}", length=2, prefix="p", separator="-") for i in range(5)]
        pulumi.export("pets", [pet.id for pet in pets])

    # The run's objects are the only ones in the youngest generation: the two younger generations are emptied
    # first, and the collector stays off during the run. So collecting that generation alone finds what the run left,
    # without walking the whole process (two full collections were ~0.5 s of a worker's time).
    enabled = gc.isenabled()
    gc.collect(1)
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run_offline(build, tmp_path)
        gc.collect(0)
        closures = [o for o in gc.garbage if getattr(o, "__qualname__", "") == "contains_unknowns.<locals>.impl"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert closures == []
