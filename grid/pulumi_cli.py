"""``grid preview`` / ``grid up``: thin Automation API wrappers that add the policy pack for the environment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grid.engine import REPO_ROOT
from grid.plan import project_root, project_spec, validate
from grid.stackfile import UsageError, read_stack_file

INSTALL_HINT = (
    "the Pulumi CLI is not installed: install it (https://www.pulumi.com/docs/iac/download-install/) "
    "or run `grid plan` for an offline plan"
)


def policy_arguments(environment: str, root: Path = REPO_ROOT) -> tuple[list[str], list[str]]:
    """(policy packs, their config files) for ``environment``; empty while the pack doesn't exist."""
    pack = root / "policies"
    config = pack / "config" / f"{environment}.json"
    if not (pack / "PulumiPolicy.yaml").is_file():
        return [], []
    return [str(pack)], [str(config)] if config.is_file() else []


def run(command: str, stack: str, root: Path | None = None) -> int:
    """Run ``pulumi preview`` or ``pulumi up`` on ``stack`` with Grid's policy pack."""
    if shutil.which("pulumi") is None:
        raise UsageError(INSTALL_HINT)
    root = root or project_root(project_spec())
    config = validate(read_stack_file(root, stack))  # fail fast, offline, with Grid's messages
    from pulumi import automation

    packs, pack_configs = policy_arguments(config.environment, root)
    workspace_stack = automation.select_stack(stack_name=stack, work_dir=str(root))
    common = {
        "policy_packs": packs,
        "policy_pack_configs": pack_configs,
        "on_output": lambda line: print(line, end="" if line.endswith("\n") else "\n"),
        "color": "auto",
    }
    from grid.rollout import recorded_rollout  # here: grid.rollout imports this module

    try:
        # The last promote/rollback lives in the stack's state, not in this checkout's stack file.
        with recorded_rollout(workspace_stack, root, stack):
            if command == "preview":
                workspace_stack.preview(diff=True, **common)
            else:
                workspace_stack.up(show_secrets=False, **common)
    except automation.CommandError as exc:
        print(str(exc).strip().splitlines()[-1], file=sys.stderr)
        return 1
    return 0
