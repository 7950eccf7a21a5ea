"""Build the ``grid plan`` document (docs/design.md §5) for a stack: resources, policy verdicts, cost, summary."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.projects import PROJECTS, PlanSettings, ProjectSpec
from grid.registrations import ProgramRun
from grid.stackfile import StackFile, UsageError, load_yaml, read_stack_file


@dataclass
class Plan:
    project: str
    settings: PlanSettings
    run: ProgramRun
    violations: list[dict[str, Any]]
    cost: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    """What the plan could not do faithfully (e.g. secrets it could not decrypt); printed on stderr."""

    @property
    def mandatory(self) -> int:
        return sum(1 for v in self.violations if v["enforcement"] == "mandatory")

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "project": self.project,
            "stack": self.run.stack,
            "environment": self.settings.environment,
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


def project_spec(name: str = "grid") -> ProjectSpec:
    if name not in PROJECTS:
        raise UsageError(f"unknown project '{name}' (known: {', '.join(PROJECTS)})")
    return PROJECTS[name]


def _project_name(directory: Path) -> str | None:
    """The ``name`` in ``directory``/Pulumi.yaml, if there is one (parsed, as the Pulumi CLI reads it)."""
    import yaml

    pulumi_yaml = directory / "Pulumi.yaml"
    if not pulumi_yaml.is_file():
        return None
    try:
        document = load_yaml(pulumi_yaml.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{pulumi_yaml}: malformed YAML ({exc.__class__.__name__})") from None
    return str(document.get("name")) if isinstance(document, dict) and document.get("name") else None


def project_here() -> str:
    """The project (a PROJECTS key) whose Pulumi.yaml is in the working directory (`grid -C DIR`); grid otherwise."""
    name = _project_name(Path.cwd())
    return next((key for key, spec in PROJECTS.items() if spec.name == name), "grid")


def project_root(spec: ProjectSpec) -> Path:
    """The stack files' directory: the working directory when it holds this project's Pulumi.yaml, else the repo's."""
    cwd = Path.cwd()
    return cwd if _project_name(cwd) == spec.name else spec.root


def validate(stack_file: StackFile, spec: ProjectSpec | None = None) -> PlanSettings:
    """The stack's validated config as a plan needs it (raises ConfigError), as the program will load it."""
    return (spec or project_spec()).plan_settings(stack_file)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector for one plan.

    Nearly everything a plan allocates (the SDK's resources, their outputs and futures, the registrations, the
    policy proxies) lives until the plan is done, and what dies sooner is freed by reference counting. The
    collector's passes find next to nothing, yet each older-generation pass walks every object alive, the provider
    SDKs' many thousand classes and functions included: ~2.5 of a prod plan's ~8 CPU seconds. The peak memory
    of a plan is the same with or without them (docs/benchmarks.md); the collector resumes when the plan ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def make_plan(
    stack: str, root: Path | None = None, project: str = "grid", *, phase_done: Callable[[str], None] | None = None
) -> Plan:
    """Validate, run the program offline, then judge and price what it registered.

    ``phase_done`` is called with each phase's name as it ends: "config", "program_run", "policies", "prices"
    (bench/plan_bench.py --phases times them)."""
    with _no_cycle_collection():
        return _make_plan(stack, root, project, phase_done or (lambda phase: None))


def _make_plan(stack: str, root: Path | None, project: str, phase_done: Callable[[str], None]) -> Plan:
    spec = project_spec(project)
    stack_file = read_stack_file(root or project_root(spec), stack, spec.name)
    settings = validate(stack_file, spec)
    phase_done("config")
    from grid.engine import run_program  # here: a command that reads a kept plan never imports the Pulumi SDK

    run = run_program(stack_file, program=spec.program, project=spec.name)
    phase_done("program_run")
    from grid import secret_exposure
    from grid.costing import price_plan  # the policy pack is imported only once a plan exists to judge
    from grid.policy_eval import evaluate, policy_settings

    resources = [r.to_json() for r in run.resources]
    # The pack judges the inputs the engine would hand it (secrets unwrapped), never the plan's "[secret]".
    violations = evaluate(
        [{**resource, "inputs": r.policy_inputs} for resource, r in zip(resources, run.resources, strict=True)],
        settings.environment,
        settings.usage,
    )
    exposure = policy_settings(secret_exposure.POLICY, settings.environment)
    violations += secret_exposure.violations(run.resources, exposure.enforcement.value, exposure.description)
    phase_done("policies")
    cost = price_plan(resources, settings.usage)
    cost["budget"] = settings.budget
    phase_done("prices")
    warning = stack_file.undecrypted_warning()
    return Plan(
        project=spec.name,
        settings=settings,
        run=run,
        violations=violations,
        cost=cost,
        warnings=[warning] if warning else [],
    )
