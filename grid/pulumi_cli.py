"""``grid preview`` / ``grid up``: Automation API wrappers that add the policy pack for the environment.

``grid up`` behaves like ``pulumi up``: it previews (Pulumi's preview with the policy pack, then Grid's offline
policy verdicts and the monthly cost change against what the stack has deployed) and asks before it changes
anything, unless ``--yes``. Without a terminal it refuses to ask: CI must say ``--yes``.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from grid.plan import project_root, project_spec, validate
from grid.projects import REPO_ROOT
from grid.stackfile import UsageError, read_stack_file

INSTALL_HINT = (
    "the Pulumi CLI is not installed: install it (https://www.pulumi.com/docs/iac/download-install/) "
    "or run `grid plan` for an offline plan"
)
NO_TERMINAL = "up: no terminal to ask for confirmation; pass --yes to deploy without asking (as CI must)"
JSON_NEEDS_YES = "up --json cannot ask for confirmation; add --yes (as `pulumi up --json` requires)"
# The module standing in for ``pulumi.automation`` (select_stack, CommandError). Tests point it at a fake so the
# command runs end to end without the Pulumi CLI; unset, the real Automation API is used.
AUTOMATION_ENV = "GRID_PULUMI_AUTOMATION"


@dataclass(frozen=True)
class Options:
    """What ``pulumi up`` / ``pulumi preview`` options Grid passes through."""

    yes: bool = False
    target: list[str] = field(default_factory=list)
    refresh: bool = False
    diff: bool = False
    json: bool = False


def policy_arguments(environment: str, root: Path = REPO_ROOT) -> tuple[list[str], list[str]]:
    """(policy packs, their config files) for ``environment``; empty while the pack doesn't exist."""
    pack = root / "policies"
    config = pack / "config" / f"{environment}.json"
    if not (pack / "PulumiPolicy.yaml").is_file():
        return [], []
    return [str(pack)], [str(config)] if config.is_file() else []


def automation() -> ModuleType:
    """``pulumi.automation``, or the stand-in named by $GRID_PULUMI_AUTOMATION."""
    stand_in = os.environ.get(AUTOMATION_ENV)
    if stand_in:
        return importlib.import_module(stand_in)
    if shutil.which("pulumi") is None:
        raise UsageError(INSTALL_HINT)
    from pulumi import automation as real

    return real


def deployed_resources(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The exported deployment's resources in `grid plan` shape (for pricing); empty for a stack never deployed."""
    return [
        {
            "urn": r["urn"],
            "type": r["type"],
            "name": r["urn"].rsplit("::", 1)[-1],
            "custom": r.get("custom", False),
            "inputs": r.get("inputs") or {},
        }
        for r in deployment.get("resources") or []
    ]


def cost_change(planned: dict[str, Any], deployed: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """Monthly USD now deployed, as planned, and the difference (same price catalog as `grid plan`)."""
    from grid.costing import price_plan

    before = price_plan(deployed, usage)["monthly"] if deployed else 0.0
    after = planned["monthly"]
    return {"currency": "USD", "deployed": before, "planned": after, "change": round(after - before, 2)}


def _grid_verdicts(stack: str, root: Path, deployment: dict[str, Any]) -> dict[str, Any]:
    """Grid's offline view of the change: policy verdicts and the cost change."""
    from grid.plan import make_plan

    plan = make_plan(stack, root)
    assert plan.cost is not None
    return {
        "violations": plan.violations,
        "mandatory": plan.mandatory,
        "cost": cost_change(plan.cost, deployed_resources(deployment), plan.settings.usage),
    }


def _verdict_lines(verdicts: dict[str, Any]) -> list[str]:
    from grid.report import violation_lines

    cost = verdicts["cost"]
    return [
        "",
        *violation_lines(verdicts["violations"]),
        f"Monthly cost: {cost['deployed']:.2f} -> {cost['planned']:.2f} {cost['currency']} ({cost['change']:+.2f})",
    ]


def confirm(question: str, read: Callable[[str], str] = input) -> bool:
    """Pulumi's question; only ``yes`` (or ``y``) goes ahead."""
    try:
        return read(f"{question} [yes/no] ").strip().lower() in ("yes", "y")
    except EOFError:
        return False


def _has_changes(preview: Any) -> bool:
    return any(count for op, count in _summary(preview.change_summary).items() if op != "same")


def run(
    command: str,
    stack: str,
    root: Path | None = None,
    options: Options | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run ``pulumi preview`` or ``pulumi up`` on ``stack`` with Grid's policy pack."""
    options = options or Options()
    stdin = stdin or sys.stdin
    if command == "up" and not options.yes:
        # Checked before anything runs: a run that can't be confirmed must not start (Pulumi refuses the same way).
        if options.json:
            raise UsageError(JSON_NEEDS_YES)
        if not stdin.isatty():
            raise UsageError(NO_TERMINAL)
    api = automation()
    root = root or project_root(project_spec())
    config = validate(read_stack_file(root, stack))  # fail fast, offline, with Grid's messages
    packs, pack_configs = policy_arguments(config.environment, root)
    workspace_stack = api.select_stack(stack_name=stack, work_dir=str(root))
    out = sys.stderr if options.json else sys.stdout  # --json keeps stdout for the one document
    common: dict[str, Any] = {
        "policy_packs": packs,
        "policy_pack_configs": pack_configs,
        "on_output": lambda line: print(line, end="" if line.endswith("\n") else "\n", file=out),
        "color": "auto",
        "target": options.target or None,
        "refresh": options.refresh or None,
        "diff": options.diff or command == "preview",
    }
    from grid.rollout import recorded_rollout  # here: grid.rollout imports this module

    try:
        # The last promote/rollback lives in the stack's state, not in this checkout's stack file.
        with recorded_rollout(workspace_stack, root, stack) as deployment:
            preview = workspace_stack.preview(**common)
            verdicts = _grid_verdicts(stack, root, deployment)
            if not options.json:
                print("\n".join(_verdict_lines(verdicts)))
            if command == "preview":
                if options.json:
                    _dump({"stack": stack, "changeSummary": _summary(preview.change_summary), "grid": verdicts})
                return 0
            if not _has_changes(preview):
                print("No changes to apply.", file=out)
                return 0
            if not options.yes and not confirm(f"Do you want to perform this update on {stack}?"):
                print("grid up: confirmation declined; nothing was changed", file=sys.stderr)
                return 1
            result = workspace_stack.up(show_secrets=False, **common)
    except api.CommandError as exc:
        print(str(exc).strip().splitlines()[-1], file=sys.stderr)
        return 1
    if options.json:
        _dump(
            {
                "stack": stack,
                "changeSummary": _summary(preview.change_summary),
                "grid": verdicts,
                "result": result.summary.result,
                "resourceChanges": _summary(result.summary.resource_changes),
            }
        )
    return 0


def _summary(changes: Any) -> dict[str, int]:
    return {str(getattr(op, "value", op)): count for op, count in (changes or {}).items()}


def _dump(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
