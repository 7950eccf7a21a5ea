"""`grid rollout <stack> <service> promote|rollback`: move traffic between Cloud Run revisions through the stack.

Traffic lives in the stack config (``grid:rollout``), so a rollout is a config change plus a targeted
``pulumi up`` of that one service: the next full ``pulumi up`` keeps what was decided instead of undoing it.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.pulumi_cli import INSTALL_HINT, policy_arguments
from grid.stackfile import UsageError

ACTIONS = ("promote", "rollback")
SERVICES = ("auth", "api", "ai")


@dataclass(frozen=True)
class RolloutChange:
    """Config leaves to set (path -> revision) and to remove, for one promote or rollback."""

    set: dict[str, str]
    remove: list[str]
    summary: str


def plan_change(rollout: dict[str, Any], service: str, action: str, latest: str | None) -> RolloutChange:
    """What ``action`` does to ``grid:rollout`` for ``service``, given the newest ready revision ``latest``."""
    if service not in SERVICES:
        raise UsageError(f"unknown service '{service}' (one of {', '.join(SERVICES)})")
    if action not in ACTIONS:
        raise UsageError(f"unknown action '{action}' (promote or rollback)")
    if rollout.get("strategy", "immediate") != "tagged":
        raise UsageError(
            "this stack rolls out immediately: set grid:rollout.strategy to tagged to promote or roll back"
        )
    stable = (rollout.get("stable") or {}).get(service)
    previous = (rollout.get("previous") or {}).get(service)
    key = f"grid:rollout.{{}}.{service}"
    if action == "promote":
        if not latest:
            raise UsageError(f"{service} has no ready revision yet: run `pulumi up` first")
        if latest == stable:
            raise UsageError(f"{latest} already serves all traffic of {service}")
        changes = {key.format("stable"): latest}
        if stable:
            changes[key.format("previous")] = stable
        return RolloutChange(changes, [], f"{service}: {stable or 'latest'} -> {latest}")
    if not previous:
        raise UsageError(f"{service} has no previous revision to roll back to")
    return RolloutChange(
        {key.format("stable"): previous}, [key.format("previous")], f"{service}: {stable} -> {previous}"
    )


def run(stack: str, service: str, action: str, root: Path) -> int:
    """Apply a promote/rollback with the Automation API: set config, then `pulumi up` only that service."""
    if shutil.which("pulumi") is None:
        raise UsageError(INSTALL_HINT)
    import json

    from pulumi import automation

    workspace_stack = automation.select_stack(stack_name=stack, work_dir=str(root))
    config = workspace_stack.get_all_config()
    rollout = json.loads(config["grid:rollout"].value) if "grid:rollout" in config else {}
    outputs = workspace_stack.outputs()
    revisions = outputs["serviceRevisions"].value if "serviceRevisions" in outputs else {}
    change = plan_change(rollout, service, action, revisions.get(service))
    for path, revision in change.set.items():
        workspace_stack.set_config(path, automation.ConfigValue(revision), path=True)
    for path in change.remove:
        workspace_stack.remove_config(path, path=True)
    target = _service_urn(workspace_stack.export_stack().deployment, service)
    packs, pack_configs = policy_arguments(config["grid:environment"].value, root)
    print(change.summary)
    try:
        workspace_stack.up(
            target=[target],
            policy_packs=packs,
            policy_pack_configs=pack_configs,
            show_secrets=False,
            on_output=lambda line: print(line, end="" if line.endswith("\n") else "\n"),
        )
    except automation.CommandError as exc:
        print(str(exc).strip().splitlines()[-1], file=sys.stderr)
        return 1
    return 0


def _service_urn(deployment: dict[str, Any], service: str) -> str:
    for resource in deployment.get("resources", []):
        labels = (resource.get("inputs") or {}).get("labels") or {}
        if resource.get("type") == "gcp:cloudrunv2/service:Service" and labels.get("grid-service") == service:
            return str(resource["urn"])
    raise UsageError(f"the stack has no Cloud Run service labelled grid-service={service}: deploy it first")
