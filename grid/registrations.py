"""What a program run registered: plain data and no Pulumi SDK, so that a plan kept on disk or handed to another
process (the tests' shared plans) loads without importing the SDK (~0.3 s) that grid/engine.py runs programs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Registration:
    """One resource as the engine saw it (the ``resources[]`` entry of ``grid plan --json``)."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    replace_on_changes: list[str] = field(default_factory=list, repr=False)
    """Input properties whose change replaces the resource (``ResourceOptions.replace_on_changes``)."""
    provider: str | None = None
    """Provider reference (``<provider urn>::<id>``) the resource was registered with; None for the default."""
    aliases: list[str] = field(default_factory=list, repr=False)
    """URNs this resource had before (``ResourceOptions.aliases`` given as URNs): the engine moves their state
    onto it instead of replacing. Never part of the plan document."""
    policy_inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """The inputs as the engine hands them to a policy pack: secrets as wrapped secret values (which the analyzer
    unwraps), not "[secret]". Never part of the plan document."""
    revealed: dict[str, Any] | None = field(default=None, repr=False)
    """Inputs and outputs with secrets in plain text, only when the run was asked to reveal them (`grid local
    --stack` needs the plan's secret versions); never part of ``to_json``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "dependencies": self.dependencies,
            "inputs": self.inputs,
        }


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    log: list[str]
