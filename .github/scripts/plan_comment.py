"""Markdown for the pull-request comment: each stack's offline plan against the base branch's.

Reads ``head-<stack>.json`` and, where the base branch could be planned, ``base-<stack>.json`` (both
``grid plan --json`` documents) from a directory and prints the comment body. Standard library only: it runs
before, and independently of, the project's own environment.

    python .github/scripts/plan_comment.py plans/ dev staging prod > comment.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- grid-plan-comment -->"
MAX_VIOLATIONS = 20
MAX_COST_LINES = 10


def load(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) and "resources" in document else None


def monthly(document: dict[str, Any] | None) -> float:
    return float(((document or {}).get("cost") or {}).get("monthly", 0.0))


def cost_by_type(document: dict[str, Any] | None) -> dict[str, float]:
    totals: dict[str, float] = {}
    for item in ((document or {}).get("cost") or {}).get("resources", []):
        totals[item["type"]] = totals.get(item["type"], 0.0) + float(item["monthly"])
    return totals


def resource_changes(base: dict[str, Any] | None, head: dict[str, Any]) -> tuple[int, int]:
    """(added, removed) resources by URN: a rename shows as one of each, as Pulumi would replace it."""
    head_urns = {r["urn"] for r in head["resources"]}
    base_urns = {r["urn"] for r in (base or {}).get("resources", [])}
    return len(head_urns - base_urns), len(base_urns - head_urns) if base else 0


def money(amount: float, signed: bool = False) -> str:
    sign = "+" if signed and amount > 0 else "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def stack_section(stack: str, base: dict[str, Any] | None, head: dict[str, Any] | None) -> list[str]:
    if head is None:
        return [f"### `{stack}`: no plan", "", "`grid plan` failed on this branch (bad config?); see the job log.", ""]
    summary = head["summary"]
    status = "❌" if summary["mandatory"] else "✅"
    delta = monthly(head) - monthly(base)
    added, removed = resource_changes(base, head)
    lines = [
        f"### {status} `{stack}` ({head['environment']})",
        "",
        "| | this PR | base | change |",
        "|---|---:|---:|---:|",
    ]
    if base is None:
        lines.append(f"| resources | {summary['resources']} | n/a | |")
        lines.append(f"| monthly cost | {money(monthly(head))} | n/a | |")
    else:
        lines.append(f"| resources | {summary['resources']} | {base['summary']['resources']} | +{added} / -{removed} |")
        lines.append(f"| monthly cost | {money(monthly(head))} | {money(monthly(base))} | {money(delta, True)} |")
    lines.append(f"| violations | {summary['mandatory']} mandatory, {summary['advisory']} advisory | | |")
    budget = (head.get("cost") or {}).get("budget")
    if budget:
        lines.append(f"| budget | {money(float(budget))} | | {monthly(head) / float(budget):.0%} used |")
    lines.append("")
    lines += cost_changes(base, head)
    lines += violation_lines(head)
    unpriced = (head.get("cost") or {}).get("unpriced") or []
    if unpriced:
        lines += [
            f"**Unpriced types** (add them to `policies/pricing.py`): {', '.join(f'`{t}`' for t in unpriced)}",
            "",
        ]
    return lines


def cost_changes(base: dict[str, Any] | None, head: dict[str, Any]) -> list[str]:
    if base is None:
        return []
    before, after = cost_by_type(base), cost_by_type(head)
    changes = sorted(
        ((t, after.get(t, 0.0) - before.get(t, 0.0)) for t in set(before) | set(after)),
        key=lambda item: (-abs(item[1]), item[0]),
    )
    changes = [(t, d) for t, d in changes if abs(d) >= 0.005]
    if not changes:
        return []
    lines = ["<details><summary>Cost change by resource type</summary>", "", "| type | change |", "|---|---:|"]
    lines += [f"| `{t}` | {money(d, True)} |" for t, d in changes[:MAX_COST_LINES]]
    if len(changes) > MAX_COST_LINES:
        lines.append(f"| … {len(changes) - MAX_COST_LINES} more | |")
    return [*lines, "", "</details>", ""]


def violation_lines(head: dict[str, Any]) -> list[str]:
    violations = sorted(head["violations"], key=lambda v: (v["enforcement"] != "mandatory", v["policy"]))
    if not violations:
        return []
    lines = ["| policy | level | resource | message |", "|---|---|---|---|"]
    for v in violations[:MAX_VIOLATIONS]:
        resource = (v.get("urn") or "stack").rsplit("::", 1)[-1]
        message = " ".join(str(v["message"]).split()).replace("|", "\\|")
        lines.append(f"| `{v['policy']}` | {v['enforcement']} | `{resource}` | {message} |")
    if len(violations) > MAX_VIOLATIONS:
        lines.append(f"| … {len(violations) - MAX_VIOLATIONS} more in the job log | | | |")
    return [*lines, ""]


def render(directory: Path, stacks: list[str]) -> str:
    lines = [MARKER, "## Grid offline plan", ""]
    total_delta = 0.0
    for stack in stacks:
        base, head = load(directory / f"base-{stack}.json"), load(directory / f"head-{stack}.json")
        if base is not None and head is not None:
            total_delta += monthly(head) - monthly(base)
        lines += stack_section(stack, base, head)
    lines.append(f"Monthly cost change across stacks: **{money(total_delta, True)}** (list price, `grid plan`).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="holds head-<stack>.json and base-<stack>.json")
    parser.add_argument("stacks", nargs="+")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.directory, args.stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
