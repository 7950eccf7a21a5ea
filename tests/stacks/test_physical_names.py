"""The names a stack checks up front are the names its components create (stacks/naming.py, components/_base.py).

They used to differ: the stack checked <prefix>-cx, -redis, -db and -vpc while the components created
<prefix>-net-cx, -cache-instance, -db-instance and -net-vpc, so a name prefix could pass the check and then fail at
deploy (a Serverless VPC Access connector name is at most 25 characters, a Memorystore instance's 40).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.networking import NetworkConfig, Networking, NetworkingArgs
from grid.stackfile import read_stack_file
from gridlib.gcp_limits import AUTONAME_SUFFIX_LEN, name_problem
from stacks.config import load_stack_config
from stacks.naming import Names
from tests.components.offline_program import run_offline
from tests.conftest import REPO_ROOT, shipped_plan
from tests.stacks.test_config import load, problems


def test_every_autonamed_name_checked_is_a_name_the_plan_creates() -> None:
    plan = shipped_plan("prod")  # its network, database with a replica, and Memorystore
    created = {
        str(r.inputs["name"])[:-AUTONAME_SUFFIX_LEN]
        for r in plan.run.resources
        if isinstance(r.inputs.get("name"), str)
    }
    stack_file = read_stack_file(REPO_ROOT, "prod")
    config = load_stack_config(
        stack_file.values, stack="prod", source="Pulumi.prod.yaml", secret_keys=stack_file.secret_keys
    )
    checked = [name for _, name, autonamed in Names(config).checked() if autonamed]
    assert len(checked) >= 5 and set(checked) <= created, set(checked) - created


def test_a_prefix_whose_memorystore_name_does_not_fit_is_refused_before_the_plan() -> None:
    # acme-platform-eu-2-cache-instance + suffix is 41; the old check counted acme-platform-eu-2-redis (32).
    lines = problems({"grid:namePrefix": "acme-platform-eu-2", "grid:cache": {"tier": "BASIC"}})
    assert any(line.startswith("Pulumi.dev.yaml: grid:namePrefix:") and "over the limit" in line for line in lines)


def _connector(tmp_path: Path, name: str) -> Any:
    config = NetworkConfig(egress="connector")
    args = NetworkingArgs(config=config, region="us-central1", project="acme-grid-test", private_service_access=False)
    tmp_path.mkdir()
    run = run_offline(lambda: Networking(name, args), tmp_path)
    [connector] = [r for r in run.resources if r.type == "gcp:vpcaccess/connector:Connector"]
    return connector


def test_a_connector_whose_auto_name_would_not_fit_gets_a_fitted_name(tmp_path: Path) -> None:
    """A connector name is at most 25 characters: a stack prefix of 11 or more (grid-reference, grid-staging) used
    to be refused up front; the component now names such a connector itself, in the auto-name's shape."""
    long = _connector(tmp_path / "long", "grid-reference-net")
    assert long.urn.endswith("::grid-reference-net-cx")  # the logical name (the URN) is still the component's
    physical = long.inputs["name"]
    assert (
        len(physical) == 25
        and physical.startswith("grid-reference-ne-")
        and name_problem("vpc_connector", physical) is None
    )
    assert _connector(tmp_path / "again", "grid-reference-net").inputs["name"] == physical  # stable: no churn
    # A name that fits is left to Pulumi's auto-naming as before (no physical name given, so no replacement).
    short = _connector(tmp_path / "short", "acme-platf-net")
    assert len(short.inputs["name"]) == 25 and short.inputs["name"].startswith("acme-platf-net-cx-")
    assert load({"grid:namePrefix": "grid-reference", "grid:network": {"egress": "connector"}})


def test_two_long_names_cut_alike_keep_distinct_connector_names(tmp_path: Path) -> None:
    first = _connector(tmp_path / "a", "acme-platform-eu-net")
    second = _connector(tmp_path / "b", "acme-platform-eu-net2")
    assert first.inputs["name"][:17] == second.inputs["name"][:17]
    assert first.inputs["name"] != second.inputs["name"]
