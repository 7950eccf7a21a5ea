"""`grid rollout <stack> <service> promote|rollback`: move traffic between Cloud Run revisions through the stack.

Traffic follows ``grid:rollout`` (stable and previous revision per service), so a rollout is a config change plus
a targeted ``pulumi up`` of that one service. The decision is recorded where the next run finds it: the program
puts it on the service as labels (stacks.config.ROLLOUT_LABELS), which land in the stack's state in the Pulumi
backend. Every deploy through ``grid`` (up, preview, rollout) reads them back from that state into the run's
config first (``recorded_rollout``), so a fresh checkout — a CI runner — keeps routing to the promoted revision
and rollback has something to return to. The stack file is left as it was; revisions pinned in it win.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.pulumi_cli import INSTALL_HINT, policy_arguments
from grid.stackfile import UsageError, read_stack_file
from stacks.workloads import bundled

RUN_SERVICE = "gcp:cloudrunv2/service:Service"

ACTIONS = ("promote", "rollback")
# The bundled Cloud Run services (gridlib/workloads.py); a stack's own come from its validated config.
SERVICES = tuple(w.name for w in bundled("service"))


@dataclass(frozen=True)
class RolloutChange:
    """Config leaves to set (path -> revision) and to remove, for one promote or rollback."""

    set: dict[str, str]
    remove: list[str]
    summary: str


def plan_change(
    rollout: dict[str, Any], service: str, action: str, latest: str | None, services: Sequence[str] = SERVICES
) -> RolloutChange:
    """What ``action`` does to ``grid:rollout`` for ``service`` (one of the stack's ``services``), given the newest
    ready revision ``latest``."""
    if service not in services:
        raise UsageError(f"unknown service '{service}' (one of {', '.join(services)})")
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


def recorded(deployment: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The rollout decision recorded in a stack's state: ``{"stable": {service: revision}, "previous": {...}}``."""
    # Here, not at the top: stacks.config loads the Pulumi SDK and every component (~0.8 s), which a `grid rollout`
    # that refuses to start (no Pulumi CLI, an unknown service) never needs; nor pydantic (gridlib.config_base).
    from stacks.config import ROLLOUT_LABELS

    state: dict[str, dict[str, str]] = {key: {} for key in ROLLOUT_LABELS}
    for resource in deployment.get("resources", []):
        if resource.get("type") != RUN_SERVICE:
            continue
        labels = (resource.get("inputs") or {}).get("labels") or {}
        service = labels.get("grid-service")
        for key, label in ROLLOUT_LABELS.items():
            if service and labels.get(label):
                state[key][service] = labels[label]
    return state


def overrides(stack_values: Mapping[str, Any], state: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Config leaves (``grid:rollout.stable.api`` -> revision) restoring ``state``, but for what the file pins."""
    from gridlib.config_base import decode_config_value  # here: it loads pydantic (see ``recorded``)

    pinned = decode_config_value(stack_values.get("grid:rollout")) or {}
    out: dict[str, str] = {}
    for key, revisions in state.items():
        for service, revision in revisions.items():
            if service not in (pinned.get(key) or {}):
                out[f"grid:rollout.{key}.{service}"] = revision
    return out


@contextlib.contextmanager
def recorded_rollout(workspace_stack: Any, root: Path, stack: str) -> Iterator[dict[str, Any]]:
    """Run with the rollout decision recorded in the stack's state in its config; yields the exported deployment.

    The Automation API keeps config in the stack file, so the file's bytes are put back afterwards: the state,
    not the runner's file, stays the record.
    """
    from pulumi import automation

    path = root / f"Pulumi.{stack}.yaml"
    original = path.read_bytes()
    try:
        deployment = workspace_stack.export_stack().deployment or {}
        for key, revision in overrides(read_stack_file(root, stack).values, recorded(deployment)).items():
            workspace_stack.set_config(key, automation.ConfigValue(revision), path=True)
        yield deployment
    finally:
        path.write_bytes(original)


def run(stack: str, service: str, action: str, root: Path) -> int:
    """Apply a promote/rollback with the Automation API: set config, then `pulumi up` only that service."""
    if shutil.which("pulumi") is None:
        raise UsageError(INSTALL_HINT)
    import json

    from pulumi import automation

    from stacks.config import load_stack_config

    # The strategy comes from the preset as much as from the file: read it from the validated config.
    stack_file = read_stack_file(root, stack)
    settings = load_stack_config(
        stack_file.values, stack=stack, source=stack_file.source, secret_keys=stack_file.secret_keys
    )
    workspace_stack = automation.select_stack(stack_name=stack, work_dir=str(root))
    with recorded_rollout(workspace_stack, root, stack) as deployment:
        config = workspace_stack.get_all_config()
        rollout = json.loads(config["grid:rollout"].value) if "grid:rollout" in config else {}
        rollout["strategy"] = settings.rollout.strategy
        outputs = workspace_stack.outputs()
        revisions = outputs["serviceRevisions"].value if "serviceRevisions" in outputs else {}
        services = [w.name for w in settings.workloads_of("service")]
        change = plan_change(rollout, service, action, revisions.get(service), services)
        for path, revision in change.set.items():
            workspace_stack.set_config(path, automation.ConfigValue(revision), path=True)
        for path in change.remove:
            workspace_stack.remove_config(path, path=True)
        target = _service_urn(deployment, service)
        packs, pack_configs = policy_arguments(settings.environment, root)
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
        if resource.get("type") == RUN_SERVICE and labels.get("grid-service") == service:
            return str(resource["urn"])
    raise UsageError(f"the stack has no Cloud Run service labelled grid-service={service}: deploy it first")
