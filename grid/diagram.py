"""A Mermaid flowchart of a plan: one node per top-level component with its key resources, and an edge wherever
a resource in one component depends on a resource in another (``grid plan --json`` dependencies, collapsed)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

MAX_KINDS = 4
# Every component waits for the enabled APIs; drawing those edges would only hide the ones that say something.
UBIQUITOUS = frozenset({"grid:project:ProjectServices"})


def _top_level(resources: list[dict[str, Any]]) -> dict[str, str]:
    """urn -> urn of its outermost component under the stack (itself, for a top-level resource)."""
    by_urn = {r["urn"]: r for r in resources}
    stack = next((r["urn"] for r in resources if r["type"] == "pulumi:pulumi:Stack"), None)
    owners: dict[str, str] = {}
    for resource in resources:
        current = resource
        while current["parent"] and current["parent"] != stack and current["parent"] in by_urn:
            current = by_urn[current["parent"]]
        owners[resource["urn"]] = current["urn"]
    return owners


def _node_id(name: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    contents: list[str]
    """The component's key resource kinds, most numerous first (``2x Service``), at most MAX_KINDS and a rest."""


def graph(plan: dict[str, Any]) -> tuple[list[Node], list[tuple[str, str]]]:
    """(top-level components, sorted (dependent, dependency) name pairs): what both renderings draw."""
    resources = [r for r in plan["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    owners = _top_level(plan["resources"])
    by_urn = {r["urn"]: r for r in resources}
    tops = sorted((r for r in resources if owners[r["urn"]] == r["urn"]), key=lambda r: r["name"])
    tops = [r for r in tops if not r["type"].startswith("pulumi:providers:")]
    kinds: dict[str, Counter[str]] = {r["urn"]: Counter() for r in tops}
    for resource in resources:
        owner = owners[resource["urn"]]
        if resource["custom"] and owner in kinds:
            kinds[owner][_kind(resource["type"])] += 1
    nodes = []
    for top in tops:
        counted = sorted(kinds[top["urn"]].items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [f"{n}x {k}" if n > 1 else k for k, n in counted[:MAX_KINDS]]
        if len(counted) > MAX_KINDS:
            shown.append(f"+{len(counted) - MAX_KINDS} more")
        nodes.append(Node(top["name"], _kind(top["type"]), shown))
    edges: set[tuple[str, str]] = set()
    for resource in resources:
        source = owners[resource["urn"]]
        for dependency in resource["dependencies"]:
            target = owners.get(dependency)
            if target and target != source and source in kinds and target in kinds:
                if by_urn[target]["type"] in UBIQUITOUS:
                    continue
                edges.add((by_urn[source]["name"], by_urn[target]["name"]))
    return nodes, sorted(edges)


def mermaid(plan: dict[str, Any]) -> str:
    """The flowchart source, stable for a given plan (sorted nodes and edges)."""
    nodes, edges = graph(plan)
    lines = ["flowchart LR"]
    for node in nodes:
        label = "<br/>".join([f"<b>{node.name}</b>", node.kind, *node.contents])
        lines.append(f'  {_node_id(node.name)}["{label}"]')
    lines += [f"  {_node_id(a)} --> {_node_id(b)}" for a, b in edges]
    return "\n".join(lines) + "\n"


def dot(plan: dict[str, Any]) -> str:
    """The same graph in Graphviz DOT (``grid plan --format dot | dot -Tsvg``), like ``pulumi stack graph``."""
    nodes, edges = graph(plan)
    lines = ["digraph grid {", "  rankdir=LR;", "  node [shape=box];"]
    for node in nodes:
        label = "\\n".join([node.name, node.kind, *node.contents]).replace('"', '\\"')
        lines.append(f'  "{node.name}" [label="{label}"];')
    lines += [f'  "{a}" -> "{b}";' for a, b in edges]
    return "\n".join([*lines, "}"]) + "\n"


BEGIN = "<!-- BEGIN GENERATED DIAGRAM: GRID_UPDATE_DOCS=1 make test regenerates it -->"
END = "<!-- END GENERATED DIAGRAM -->"


def embed(document: str, plan: dict[str, Any]) -> str:
    """``document`` with the fenced diagram between BEGIN and END replaced by the plan's."""
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n```mermaid\n{mermaid(plan)}```\n{END}{tail}"
