"""Human-readable rendering of a plan: a preview-style resource tree, violations, cost."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

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


def render_plan(plan: Plan) -> str:
    document = plan.to_json()
    out = [f"Plan for stack {document['stack']} ({document['environment']}), offline", ""]
    out += _tree_lines(document["resources"])
    custom = sum(1 for r in document["resources"] if r["custom"])
    out += ["", f"Resources: {len(document['resources'])} to create ({custom} cloud resources)"]
    violations = document["violations"]
    if violations:
        out += ["", "Policy violations:"]
        for v in violations:
            out.append(f"  [{v['enforcement']}] {v['policy']}: {v['message']}")
            if v.get("urn"):
                out.append(f"      at {v['urn'].rsplit('::', 1)[-1]}")
    else:
        out += ["", "Policy violations: none"]
    cost = document.get("cost")
    if cost:
        out += ["", f"Estimated monthly cost: {cost['monthly']:.2f} {cost['currency']}"]
    return "\n".join(out)
