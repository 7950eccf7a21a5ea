"""`grid cost`: the monthly estimate of a stack per component, and the change between two plans."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from grid.stackfile import UsageError


def component_of(urn: str, by_urn: dict[str, dict[str, Any]]) -> str:
    """The top-level component a resource belongs to (its outermost ``grid:`` ancestor), or "(stack)"."""
    resource, top = by_urn.get(urn), "(stack)"
    while resource is not None:
        if resource["type"].startswith("grid:"):
            top = resource["name"]
        resource = by_urn.get(resource["parent"]) if resource["parent"] else None
    return top


def per_component(document: dict[str, Any]) -> dict[str, float]:
    """Component name -> monthly USD, from a plan document's cost section."""
    by_urn = {r["urn"]: r for r in document["resources"]}
    totals: dict[str, float] = defaultdict(float)
    for item in (document.get("cost") or {}).get("resources", []):
        totals[component_of(item["urn"], by_urn)] += item["monthly"]
    return dict(totals)


def _components(document: dict[str, Any]) -> dict[str, float]:
    """Per component, keyed without the stack's name prefix so plans of two stacks line up."""
    prefix = _prefix(document)
    return {name.removeprefix(prefix): amount for name, amount in per_component(document).items()}


def _prefix(document: dict[str, Any]) -> str:
    """The name prefix every top-level component shares (``grid-prod-``), up to its last dash."""
    stack = next((r["urn"] for r in document["resources"] if r["type"] == "pulumi:pulumi:Stack"), None)
    names = [r["name"] for r in document["resources"] if r["type"].startswith("grid:") and r["parent"] == stack]
    shared: list[str] = []
    for words in zip(*(name.split("-") for name in names), strict=False):
        if len(names) < 2 or len(set(words)) > 1:
            break
        shared.append(words[0])
    return "".join(f"{word}-" for word in shared)


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """`grid cost --json`: the stack's monthly estimate per component (priced components only, largest first)."""
    cost = document.get("cost") or {}
    components = sorted(_components(document).items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "stack": document["stack"],
        "environment": document["environment"],
        "currency": cost.get("currency", "USD"),
        "components": {name: round(amount, 2) for name, amount in components if amount > 0},
        "monthly": cost.get("monthly", 0.0),
        "budget": cost.get("budget"),
        "unpriced": cost.get("unpriced") or [],
    }


def summary_lines(document: dict[str, Any]) -> list[str]:
    estimate = summary(document)
    lines = [f"Monthly estimate for {estimate['stack']} ({estimate['environment']}), USD at list price:"]
    lines += [f"  {name:40} {amount:>10.2f}" for name, amount in estimate["components"].items()]
    lines.append(f"  {'total':40} {estimate['monthly']:>10.2f}")
    if estimate["budget"]:
        lines.append(f"  {'budget':40} {estimate['budget']:>10.2f}")
    if estimate["unpriced"]:
        lines.append(f"  unpriced: {', '.join(estimate['unpriced'])}")
    return lines


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`grid cost --diff --json`: per-component change from ``before`` to ``after`` (changed components only)."""
    a, b = _components(before), _components(after)
    changes = {
        name: {"before": round(a.get(name, 0.0), 2), "after": round(b.get(name, 0.0), 2), "change": round(d, 2)}
        for name in sorted(set(a) | set(b))
        if abs(d := b.get(name, 0.0) - a.get(name, 0.0)) >= 0.005
    }
    total_a, total_b = before["cost"]["monthly"], after["cost"]["monthly"]
    return {
        "before": before["stack"],
        "after": after["stack"],
        "currency": "USD",
        "components": changes,
        "total": {"before": total_a, "after": total_b, "change": round(total_b - total_a, 2)},
    }


def diff_lines(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Per-component change from ``before`` to ``after`` (two `grid plan --json` documents)."""
    change = diff(before, after)
    lines = [f"Monthly cost change {change['before']} -> {change['after']} (USD):"]
    for name, c in [*change["components"].items(), ("total", change["total"])]:
        lines.append(f"  {name:40} {c['before']:>10.2f} -> {c['after']:>10.2f}  {c['change']:>+10.2f}")
    return lines


def load_plan(path: str) -> dict[str, Any]:
    """A `grid plan --json` document from ``path``; one-line UsageError when it is not one."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; write one with `grid plan --stack NAME --json > {path}`") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or "cost" not in document or "resources" not in document:
        raise UsageError(f"{path}: not a `grid plan --json` document with a cost section")
    return document
