"""Price an offline plan: the `cost` section of `grid plan --json` (docs/design.md §5).

Only custom resources are priced (components hold no cloud resources of their own). Prices and
usage assumptions come from policies/pricing.py, the same catalog the budget policy uses, so the
cost table and the policy verdict always agree. Account-level free tiers are applied once per
plan, in plan order; see pricing.price_resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policies.pricing import PricingInput, price_resources


def price_plan(resources: Sequence[Mapping[str, Any]], usage: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"currency", "monthly", "resources": [{"urn", "type", "monthly", "basis"}], "unpriced": [types]}`.

    `resources` are `grid plan` resources (urn, type, name, custom, inputs); `usage` is the stack's
    `grid:usage` mapping (keys in policies.pricing.USAGE_KEYS).
    """
    plan = price_resources(
        (
            PricingInput(resource["urn"], resource["type"], resource["name"], resource.get("inputs") or {})
            for resource in resources
            if resource.get("custom", True)
        ),
        usage,
    )
    return {
        "currency": "USD",
        "monthly": round(plan.monthly, 2),
        "resources": [
            {"urn": item.urn, "type": item.type, "monthly": round(item.monthly, 2), "basis": item.basis}
            for item in plan.resources
        ],
        "unpriced": list(plan.unpriced),
    }
