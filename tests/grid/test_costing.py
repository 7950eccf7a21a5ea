"""grid.costing prices the custom resources of a plan with the policy pack's catalog."""

from __future__ import annotations

import pytest

from grid.costing import price_plan
from tests.policies.harness import stack_resource


def test_cost_section_contract() -> None:
    resources = [
        {**stack_resource("urn:component", "grid:cache:Cache", {}), "custom": False},
        stack_resource("urn:redis", "gcp:redis/instance:Instance", {"tier": "BASIC", "memorySizeGb": 1}),
        stack_resource("urn:net", "gcp:compute/network:Network", {}),
        stack_resource("urn:cluster", "gcp:redis/cluster:Cluster", {}),
    ]
    cost = price_plan(resources)
    assert cost["currency"] == "USD"
    assert [item["urn"] for item in cost["resources"]] == ["urn:redis", "urn:net"]  # components are not priced
    assert cost["resources"][0]["monthly"] == pytest.approx(0.049 * 730, abs=0.01)
    assert cost["resources"][0]["basis"].startswith("BASIC M1: 1 GB x 730 h")
    assert cost["resources"][1] == {
        "urn": "urn:net",
        "type": "gcp:compute/network:Network",
        "monthly": 0.0,
        "basis": "free: VPC networks are free",
    }
    assert cost["unpriced"] == ["gcp:redis/cluster:Cluster"]
    assert cost["monthly"] == pytest.approx(35.77)


def test_usage_changes_the_estimate() -> None:
    topic = stack_resource("urn:pulumi:dev::grid::gcp:pubsub/topic:Topic::events", "gcp:pubsub/topic:Topic", {})
    light = price_plan([topic])
    heavy = price_plan([topic], {"resources": {"events": {"throughputGbPerMonth": 2058}}})
    assert light["monthly"] == 0.0  # 1 GiB is inside the 10 GiB free tier
    assert heavy["monthly"] == pytest.approx((2058 - 10) * 40 / 1024, abs=0.01)
