"""Output that fits a terminal: rich renders the plan's tree, tables and colours, sized to the terminal.

Only on a terminal: piped or redirected output stays the plain text of grid/report.py (stable for scripts), and
``--json`` never comes here. rich itself honours NO_COLOR (https://no-color.org) and TERM=dumb and reads the
width from the terminal (or COLUMNS).
"""

from __future__ import annotations

import contextlib
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from grid.cost import per_component
from grid.plan import Plan

ENFORCEMENT_STYLES = {"mandatory": "bold red", "advisory": "yellow"}
# `grid plan --diff` lines by kind (grid/plandiff.diff_rows), coloured as `pulumi preview --diff` colours them.
DIFF_STYLES = {
    "heading": "bold",
    "create": "green",
    "added": "green",
    "update": "yellow",
    "changed": "yellow",
    "replace": "magenta",
    "delete": "red",
    "removed": "red",
    "cost-more": "red",
    "cost-less": "green",
    "resolved": "green",
    **ENFORCEMENT_STYLES,
}


def stdout_console() -> Console:
    return Console(highlight=False)


def is_terminal() -> bool:
    return stdout_console().is_terminal


def warn(message: str) -> None:
    """A warning on stderr: wrapped to the terminal there, one plain line in logs."""
    console = Console(stderr=True, highlight=False)
    if console.is_terminal:
        console.print(Text(message, style="yellow"))
    else:
        print(message, file=sys.stderr)


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while the plan runs, only when stderr is a terminal (never in pipes or CI logs)."""
    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def _label(text: str, style: str) -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def _tree(resources: list[dict[str, Any]]) -> RenderableType:
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        children[resource["parent"]].append(resource)

    def label(resource: dict[str, Any]) -> Text:
        text = _label(f"+ {resource['type']}  ", "green")
        text.append(resource["name"], style="bold" if not resource["custom"] else "")
        if resource["protect"]:
            text.append(" [protected]", style="cyan")
        return text

    roots = children.get(None, [])
    group: list[RenderableType] = []
    for root in roots:
        tree = Tree(label(root), guide_style="dim")

        def grow(node: Tree, urn: str) -> None:
            for child in children.get(urn, []):
                grow(node.add(label(child)), child["urn"])

        grow(tree, root["urn"])
        group.append(tree)
    return Group(*group)


def _violations(violations: list[dict[str, Any]]) -> RenderableType:
    from grid.report import remediations

    if not violations:
        return Text("Policy violations: none", style="green")
    fixes = remediations()
    lines: list[RenderableType] = [Text(f"Policy violations: {len(violations)}", style="bold")]
    for v in sorted(violations, key=lambda v: (v["enforcement"] != "mandatory", v["policy"])):
        description, _, detail = v["message"].partition("\n")
        where = f" ({v['urn'].rsplit('::', 1)[-1]})" if v.get("urn") else ""
        line = Text("  ")
        line.append(f"[{v['enforcement']}]", style=ENFORCEMENT_STYLES.get(v["enforcement"], ""))
        line.append(f" {v['policy']}{where}: {detail or description}")
        lines.append(line)
        if fixes.get(v["policy"]):
            lines.append(Text(f"      fix: {fixes[v['policy']]}", style="dim"))
    return Group(*lines)


def _cost(document: dict[str, Any]) -> RenderableType:
    cost = document["cost"]
    table = Table(title="Monthly cost (USD, list price)", title_justify="left", box=None, pad_edge=False, expand=True)
    # Fixed widths for name and amount, the rest for the basis: rich drops a column it can't size otherwise.
    table.add_column("resource", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("monthly", justify="right", no_wrap=True, width=10)
    table.add_column("basis", style="dim", no_wrap=True, overflow="ellipsis", ratio=1)
    for item in sorted(cost["resources"], key=lambda i: -i["monthly"]):
        if item["monthly"] > 0:
            table.add_row(item["urn"].rsplit("::", 1)[-1], f"{item['monthly']:.2f}", item["basis"])
    components = Table(title="per component", title_justify="left", box=None, pad_edge=False)
    components.add_column("component", no_wrap=True, overflow="ellipsis")
    components.add_column("monthly", justify="right", no_wrap=True)
    for component, amount in sorted(per_component(document).items(), key=lambda kv: -kv[1]):
        if amount > 0:
            components.add_row(component, f"{amount:.2f}")
    free = sum(1 for i in cost["resources"] if i["monthly"] == 0)
    total = Text(f"total {cost['monthly']:.2f} {cost['currency']}/month", style="bold")
    budget = cost.get("budget")
    if budget:
        share = cost["monthly"] / budget
        total.append(f" of a {budget:.2f} budget ({share:.0%})", style="red" if share > 1 else "green")
    parts: list[RenderableType] = [table, Text(f"({free} free resources not listed)", style="dim"), components, total]
    if cost["unpriced"]:
        parts.append(Text(f"unpriced types: {', '.join(cost['unpriced'])}", style="red"))
    return Group(*parts)


def print_plan(plan: Plan, console: Console | None = None) -> None:
    """The plan report as grid/report.py words it, drawn with rich for a terminal."""
    console = console or stdout_console()
    document = plan.to_json()
    custom = sum(1 for r in document["resources"] if r["custom"])
    console.print(Text(f"Plan for stack {document['stack']} ({document['environment']}), offline", style="bold"))
    console.print()
    console.print(_tree(document["resources"]))
    console.print()
    console.print(f"Resources: {len(document['resources'])} to create ({custom} cloud resources)")
    console.print()
    console.print(_violations(document["violations"]))
    if document.get("cost"):
        console.print()
        console.print(_cost(document))


def print_diff(diff: dict[str, Any], console: Console | None = None) -> None:
    """`grid plan --diff` in colour: the same lines grid/plandiff.py writes to a pipe, styled by what they say."""
    from grid.plandiff import diff_rows

    console = console or stdout_console()
    for kind, line in diff_rows(diff):
        console.print(Text(line, style=DIFF_STYLES.get(kind, "")))
