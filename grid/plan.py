"""Build the ``grid plan`` document (DESIGN §5) for a stack: resources, policy verdicts, cost, summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.engine import REPO_ROOT, ProgramRun, run_program
from grid.stackfile import PROJECT, StackFile, read_stack_file
from stacks.config import StackConfig, load_stack_config


@dataclass
class Plan:
    config: StackConfig
    run: ProgramRun
    violations: list[dict[str, Any]]
    cost: dict[str, Any] | None

    @property
    def mandatory(self) -> int:
        return sum(1 for v in self.violations if v["enforcement"] == "mandatory")

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "project": PROJECT,
            "stack": self.run.stack,
            "environment": self.config.environment,
            "resources": [r.to_json() for r in self.run.resources],
            "violations": self.violations,
        }
        if self.cost is not None:
            document["cost"] = self.cost
        document["summary"] = {
            "resources": len(self.run.resources),
            "mandatory": self.mandatory,
            "advisory": len(self.violations) - self.mandatory,
        }
        return document


def validate(stack_file: StackFile) -> StackConfig:
    """The stack's validated config (raises ConfigError), exactly as the program will load it."""
    return load_stack_config(
        stack_file.values, stack=stack_file.stack, source=stack_file.source, secret_keys=stack_file.secret_keys
    )


def project_root() -> Path:
    """The directory holding the stack files: the working directory when it is a Pulumi project, else the repo."""
    cwd = Path.cwd()
    return cwd if (cwd / "Pulumi.yaml").is_file() else REPO_ROOT


def make_plan(stack: str, root: Path | None = None) -> Plan:
    """Validate, run the program offline, then judge and price what it registered."""
    stack_file = read_stack_file(root or project_root(), stack)
    config = validate(stack_file)
    run = run_program(stack_file)
    from grid.costing import price_plan  # the policy pack is imported only once a plan exists to judge
    from grid.policy_eval import evaluate

    resources = [r.to_json() for r in run.resources]
    usage = config.usage.model_dump(by_alias=True)
    violations = evaluate(resources, config.environment, usage)
    cost = price_plan(resources, usage)
    cost["budget"] = config.monitoring.budget.monthly_usd
    return Plan(config=config, run=run, violations=violations, cost=cost)
