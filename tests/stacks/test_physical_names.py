"""The names a stack checks up front are the names its components create (stacks/naming.py, components/_base.py).

They used to differ: the stack checked <prefix>-cx, -redis, -db and -vpc while the components created
<prefix>-net-cx, -cache-instance, -db-instance and -net-vpc, so a name prefix could pass the check and then fail at
deploy (a Serverless VPC Access connector name is at most 25 characters, a Memorystore instance's 40).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.networking import NetworkConfig, Networking, NetworkingArgs
from grid.stackfile import read_stack_file
from gridlib.gcp_limits import AUTONAME_SUFFIX_LEN
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


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [
        # acme-platform-net-cx + "-1a2b3c4" is 28 characters; the old check counted acme-platform-cx (24).
        ({"grid:namePrefix": "acme-platform", "grid:network": {"egress": "connector"}}, "vpc_connector"),
        # acme-platform-eu-2-cache-instance + suffix is 41; the old check counted acme-platform-eu-2-redis (32).
        ({"grid:namePrefix": "acme-platform-eu-2", "grid:cache": {"tier": "BASIC"}}, "redis_instance"),
    ],
)
def test_a_prefix_whose_created_names_do_not_fit_is_refused_before_the_plan(overrides, kind) -> None:
    lines = problems(overrides)
    assert any(line.startswith("Pulumi.dev.yaml: grid:namePrefix:") and "over the limit" in line for line in lines)
    # ... and a prefix short enough for the tightest limit passes: acme-platf-net-cx + suffix is 25.
    if kind == "vpc_connector":
        load({**overrides, "grid:namePrefix": "acme-platf"})


def test_the_component_alone_refuses_a_name_its_connector_cannot_carry(tmp_path: Path) -> None:
    config = NetworkConfig(egress="connector")
    with pytest.raises(
        ValueError, match=r"^Networking 'acme-networking': its vpc connector name .* over the limit of 25"
    ):
        run_offline(
            lambda: Networking(
                "acme-networking",
                NetworkingArgs(
                    config=config, region="us-central1", project="acme-grid-test", private_service_access=False
                ),
            ),
            tmp_path,
        )
