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
