"""Each shipped stack's plan matches its reviewed inventory (tests/inventories/<stack>.yaml).

After an intended change, regenerate with `GRID_UPDATE_INVENTORIES=1 make test` and review the YAML diff.
"""

from __future__ import annotations

import os

import pytest
import yaml

from grid.inventory import inventory
from grid.stackfile import load_yaml
from tests.conftest import DEPLOYED_STACKS, REPO_ROOT, STACKS, shipped_plan

INVENTORIES = REPO_ROOT / "tests" / "inventories"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_inventory(stack: str) -> None:
    actual = inventory(shipped_plan(stack).to_json())
    path = INVENTORIES / f"{stack}.yaml"
    if os.environ.get("GRID_UPDATE_INVENTORIES") == "1":
        path.write_text(yaml.safe_dump(actual, sort_keys=False, width=120))
    expected = load_yaml(path.read_text())
    assert actual == expected, f"{stack} plan changed: review it, then GRID_UPDATE_INVENTORIES=1 make test"


# The URNs each shipped stack planned before the workload registry (issue 15): what a deployed stack's state
# holds. Regenerating the inventories never touches these; only a deliberate state migration may.
DEPLOYED_URNS = INVENTORIES / "urns"
# Resources a change removed on purpose (deleted by the next `pulumi up`, nothing recreated in their place), by
# the end of their URN, each with why. Anything else missing from the plan is a replacement and needs an alias.
RETIRED = {
    "::grid-{stack}-identity-api-acts-as-invoker": "api no longer enqueues Cloud Tasks, only ai does (issue 12)",
    "::grid-{stack}-ai-tasks-enqueuer-api": "api no longer enqueues Cloud Tasks, only ai does (issue 12)",
}


@pytest.mark.parametrize("stack", DEPLOYED_STACKS)
def test_deployed_urns_are_still_planned_or_aliased(stack: str) -> None:
    """Upgrading a deployed stack replaces nothing: every URN it holds is planned again, or named by an alias of
    a planned resource (so Pulumi moves its state instead of deleting and recreating it), or was retired."""
    run = shipped_plan(stack).run
    known = {r.urn for r in run.resources} | {alias for r in run.resources for alias in r.aliases}
    deployed = (DEPLOYED_URNS / f"{stack}.txt").read_text().split()
    assert deployed, "the baseline of deployed URNs is empty"
    retired = tuple(end.format(stack=stack) for end in RETIRED)
    assert all(any(urn.endswith(end) for urn in deployed) for end in retired), "a retired URN was never deployed"
    missing = [urn for urn in deployed if urn not in known and not urn.endswith(retired)]
    assert not missing, f"{stack}: these deployed resources would be replaced (add aliases): {missing}"
