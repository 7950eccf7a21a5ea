"""The cost benchmark's reference stack plans: bench/cost_bench.py compares prod with it.

A check added on 2026-11-30 refused the reference's name prefix (its 29-character connector name), so the bench
failed until the Networking component fitted such names itself; nothing ran the bench in the meantime.
"""

from __future__ import annotations

from grid.plan import make_plan
from tests.conftest import REPO_ROOT

REFERENCE = REPO_ROOT / "bench" / "reference"


def test_the_reference_architecture_plans_as_a_grid_stack() -> None:
    document = make_plan("reference", root=REFERENCE).to_json()
    connector = next(r for r in document["resources"] if r["type"] == "gcp:vpcaccess/connector:Connector")
    assert len(connector["inputs"]["name"]) <= 25
    # Its one mandatory violation is the reference's own design (200 max instances on api, over the cap of 100).
    mandatory = {v["policy"] for v in document["violations"] if v["enforcement"] == "mandatory"}
    assert mandatory == {"cost-run-max-instances"}
    assert document["cost"]["monthly"] > 1500  # more than prod's whole budget: what the bench compares prod with
