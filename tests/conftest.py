"""Shared fixtures. `synth` runs the real Pulumi program under fresh mocks and returns what it registered."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


def stack_values(stack: str) -> dict[str, Any]:
    """The ``config:`` map of a shipped stack file, as written."""
    return yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def deep_update(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on ``base`` key by key, as a stack file is merged onto its preset; ``base`` is left as it was."""
    from gridlib.config_base import deep_merge

    return deep_merge(copy.deepcopy(base), override)


class Synth:
    """The result of one offline run: resources by type/name plus stack outputs."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.resources = run.resources
        self.outputs = run.outputs

    def of_type(self, resource_type: str) -> list[Any]:
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str, name_suffix: str = "") -> Any:
        matches = [r for r in self.of_type(resource_type) if r.name.endswith(name_suffix)]
        assert len(matches) == 1, f"expected one {resource_type} *{name_suffix}, got {[r.name for r in matches]}"
        return matches[0]

    def by_urn(self, urn: str) -> Any:
        return next(r for r in self.resources if r.urn == urn)


@pytest.fixture
def synth(tmp_path: Path) -> Callable[..., Synth]:
    """``synth("prod", {"grid:database": {...}})``: run a shipped stack, optionally with config overrides."""
    from grid.engine import run_program
    from grid.stackfile import read_stack_file

    def run(stack: str, overrides: dict[str, Any] | None = None) -> Synth:
        values = deep_update(stack_values(stack), overrides or {})
        document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        document["config"] = values
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
        return Synth(run_program(read_stack_file(tmp_path, stack)))

    return run
