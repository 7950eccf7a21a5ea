"""Each shipped stack's plan matches its reviewed inventory (tests/inventories/<stack>.yaml).

After an intended change, regenerate with `GRID_UPDATE_INVENTORIES=1 make test` and review the YAML diff.
"""

from __future__ import annotations

import os

import pytest
import yaml

from grid.inventory import inventory
from tests.conftest import REPO_ROOT, STACKS, shipped_plan

INVENTORIES = REPO_ROOT / "tests" / "inventories"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_inventory(stack: str) -> None:
    actual = inventory(shipped_plan(stack).to_json())
    path = INVENTORIES / f"{stack}.yaml"
    if os.environ.get("GRID_UPDATE_INVENTORIES") == "1":
        path.write_text(yaml.safe_dump(actual, sort_keys=False, width=120))
    expected = yaml.safe_load(path.read_text())
    assert actual == expected, f"{stack} plan changed: review it, then GRID_UPDATE_INVENTORIES=1 make test"
