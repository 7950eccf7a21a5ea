"""Human-readable rendering of a plan: a preview-style resource tree, violations with fixes, a cost table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from grid.cost import per_component
from grid.plan import Plan


def _tree_lines(resources: list[dict[str, Any]]) -> list[str]:
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        children[resource["parent"]].append(resource)
    lines: list[str] = []

    def walk(parent: str | None, indent: str) -> None:
        kids = children.get(parent, [])
        for i, resource in enumerate(kids):
            last = i == len(kids) - 1
            branch = "" if parent is None else ("└─ " if last else "├─ ")
            marks = " [protected]" if resource["protect"] else ""
            lines.append(f"{indent}{branch}+ {resource['type']}  {resource['name']}{marks}")
            walk(resource["urn"], indent + ("" if parent is None else ("   " if last else "│  ")))

    walk(None, "")
    return lines


def remediations() -> dict[str, str]:
    from policies import all_policies

    return {p.name: " ".join(str(getattr(p, "remediation_steps", "") or "").split()) for p in all_policies}


def violation_lines(violations: list[dict[str, Any]]) -> list[str]:
    if not violations:
        return ["Policy violations: none"]
    fixes = remediations()
    lines = [f"Policy violations: {len(violations)}"]
    for v in sorted(violations, key=lambda v: (v["enforcement"] != "mandatory", v["policy"])):
        description, _, detail = v["message"].partition("\n")
        where = f" ({v['urn'].rsplit('::', 1)[-1]})" if v.get("urn") else ""
        lines.append(f"  [{v['enforcement']}] {v['policy']}{where}: {detail or description}")
        if fixes.get(v["policy"]):
            lines.append(f"      fix: {fixes[v['policy']]}")
    return lines


def _cost_lines(document: dict[str, Any]) -> list[str]:
    cost = document.get("cost")
    if not cost:
        return []
    lines = ["", "Monthly cost (USD, list price):", f"  {'resource':58} {'monthly':>10}  basis"]
    for item in sorted(cost["resources"], key=lambda i: -i["monthly"]):
        if item["monthly"] > 0:
            name = item["urn"].rsplit("::", 1)[-1]
            lines.append(f"  {name[:58]:58} {item['monthly']:>10.2f}  {item['basis']}")
    free = sum(1 for i in cost["resources"] if i["monthly"] == 0)
    lines.append(f"  ({free} free resources not listed)")
    lines += ["", "  per component:"]
    for component, amount in sorted(per_component(document).items(), key=lambda kv: -kv[1]):
        if amount > 0:
            lines.append(f"    {component:56} {amount:>10.2f}")
    budget = cost.get("budget")
    total = f"  total {cost['monthly']:.2f} {cost['currency']}/month"
    if budget:
        total += f" of a {budget:.2f} budget ({cost['monthly'] / budget:.0%})"
    lines += ["", total]
    if cost["unpriced"]:
        lines.append(f"  unpriced types: {', '.join(cost['unpriced'])}")
    return lines


def render_plan(plan: Plan) -> str:
    document = plan.to_json()
    out = [f"Plan for stack {document['stack']} ({document['environment']}), offline", ""]
    out += _tree_lines(document["resources"])
    custom = sum(1 for r in document["resources"] if r["custom"])
    out += ["", f"Resources: {len(document['resources'])} to create ({custom} cloud resources)", ""]
    out += violation_lines(document["violations"])
    out += _cost_lines(document)
    return "\n".join(out)
