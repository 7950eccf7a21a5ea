"""`grid plan --diff BASE.json`: what changes from a saved plan to this one, read the way `pulumi preview --diff`
reads: resources created, deleted, replaced or updated with their changed properties, the monthly cost change and
the policy violations the change introduces or resolves.

Replace or update: the offline engine knows only the program's own ``replace_on_changes`` options, not the
provider's force-new properties (pulumi-gcp's Python SDK doesn't carry its schema's replacement flags), so a
change to any other property is reported as an update; the real `grid preview` says where the provider replaces.
Secret inputs are ``[secret]`` on both sides, so a changed secret value is not visible (and never printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

OPS = ("create", "update", "replace", "delete")
SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf) pairs; lists and scalars are leaves, as Pulumi's diff shows a changed list whole."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{path}.{key}" if path else key)
    else:
        yield path, value


def property_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Changed input properties, by dotted path, with their old and new values."""
    old, new = dict(_flatten(before)), dict(_flatten(after))
    return [
        {"path": path, "before": old.get(path), "after": new.get(path)}
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]


def _replaces(changes: list[dict[str, Any]], replace_on_changes: list[str]) -> bool:
    """Pulumi's replaceOnChanges: a changed path at or under a listed property ("*" for any)."""
    return any(
        rule == "*" or change["path"] == rule or change["path"].startswith(f"{rule}.")
        for change in changes
        for rule in replace_on_changes
    )


def _key(violation: dict[str, Any]) -> tuple[str, str]:
    return violation["policy"], violation.get("urn") or ""


def diff_plans(
    base: dict[str, Any], head: dict[str, Any], replace_on_changes: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The ``diff`` section of `grid plan --json --diff`: ``head`` against ``base`` (two plan documents).

    ``replace_on_changes`` maps a head URN to its replace-on-change properties (from the engine's registrations).
    """
    replace_on_changes = replace_on_changes or {}
    before = {r["urn"]: r for r in base["resources"]}
    after = {r["urn"]: r for r in head["resources"]}
    steps: list[dict[str, Any]] = []
    unchanged = 0
    for urn in sorted(set(before) | set(after)):
        old, new = before.get(urn), after.get(urn)
        if old is None or new is None:
            resource = new or old
            assert resource is not None
            steps.append({"urn": urn, "type": resource["type"], "op": "create" if old is None else "delete"})
            continue
        changes = property_changes(old.get("inputs") or {}, new.get("inputs") or {})
        if not changes:
            unchanged += 1
            continue
        op = "replace" if _replaces(changes, replace_on_changes.get(urn, [])) else "update"
        steps.append({"urn": urn, "type": new["type"], "op": op, "changes": changes})
    old_violations = {_key(v): v for v in base.get("violations", [])}
    new_violations = {_key(v): v for v in head.get("violations", [])}
    summary = {op: sum(1 for s in steps if s["op"] == op) for op in OPS}
    return {
        "base": {"project": base.get("project"), "stack": base.get("stack")},
        "steps": steps,
        "summary": {**summary, "same": unchanged},
        "cost": _cost_change(base, head),
        "violations": {
            "new": [v for k, v in new_violations.items() if k not in old_violations],
            "resolved": [v for k, v in old_violations.items() if k not in new_violations],
        },
    }


def _by_type(document: dict[str, Any]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for item in (document.get("cost") or {}).get("resources", []):
        totals[item["type"]] = totals.get(item["type"], 0.0) + float(item["monthly"])
    return totals


def _cost_change(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    old, new = (float((d.get("cost") or {}).get("monthly", 0.0)) for d in (base, head))
    a, b = _by_type(base), _by_type(head)
    by_type = {t: round(b.get(t, 0.0) - a.get(t, 0.0), 2) for t in sorted(set(a) | set(b))}
    return {
        "before": round(old, 2),
        "after": round(new, 2),
        "change": round(new - old, 2),
        "byType": {t: d for t, d in by_type.items() if abs(d) >= 0.005},
    }


def _value(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True) if value is not None else "(none)"


def diff_rows(diff: dict[str, Any]) -> list[tuple[str, str]]:
    """The diff as `pulumi preview --diff` prints it, one ``(kind, line)`` per line: a step, then its changed
    properties. The kind (an op, ``property``, ``cost``, an enforcement level …) is what a terminal colours by;
    the words are the same for a pipe and a terminal."""
    base = diff["base"]
    rows = [("heading", f"Changes against {base['stack']} (saved plan):"), ("", "")]
    for step in diff["steps"]:
        name = step["urn"].rsplit("::", 1)[-1]
        rows.append((step["op"], f"  {SYMBOLS[step['op']]:2} {step['type']}  {name}  {step['op']}"))
        for change in step.get("changes", []):
            if change["before"] is None:
                rows.append(("added", f"      + {change['path']}: {_value(change['after'])}"))
            elif change["after"] is None:
                rows.append(("removed", f"      - {change['path']}: {_value(change['before'])}"))
            else:
                line = f"      ~ {change['path']}: {_value(change['before'])} => {_value(change['after'])}"
                rows.append(("changed", line))
    summary = diff["summary"]
    counts = [f"{SYMBOLS[op]} {summary[op]} to {op}" for op in OPS if summary[op]]
    rows += [("", ""), ("heading", f"Resources: {', '.join(counts) or 'no changes'}; {summary['same']} unchanged")]
    cost = diff["cost"]
    direction = "more" if cost["change"] > 0.005 else "less" if cost["change"] < -0.005 else "same"
    rows.append(
        (f"cost-{direction}", f"Monthly cost: {cost['before']:.2f} -> {cost['after']:.2f} USD ({cost['change']:+.2f})")
    )
    for label, key in (("New violations", "new"), ("Resolved violations", "resolved")):
        found = diff["violations"][key]
        rows.append(("heading", f"{label}: {len(found) or 'none'}"))
        for v in found:
            where = f" ({v['urn'].rsplit('::', 1)[-1]})" if v.get("urn") else ""
            kind = v["enforcement"] if key == "new" else "resolved"
            rows.append((kind, f"  [{v['enforcement']}] {v['policy']}{where}: {v['message'].splitlines()[-1]}"))
    return rows


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """The diff as plain lines (pipes, files, CI logs)."""
    return [line for _, line in diff_rows(diff)]
