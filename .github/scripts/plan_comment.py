"""Markdown for the pull-request comment: each stack's offline plan against the base branch's.

Reads ``head-<stack>.json`` (``grid plan --json``, with the ``diff`` section ``grid plan --diff base-<stack>.json``
adds where the base branch could be planned) from a directory and prints the comment body. What changed is
computed by ``grid plan --diff``; this script only lays it out. Standard library only: it runs before, and
independently of, the project's own environment.

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


def money(amount: float, signed: bool = False) -> str:
    sign = "+" if signed and amount > 0 else "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def stack_section(stack: str, head: dict[str, Any] | None) -> list[str]:
    if head is None:
        return [f"### `{stack}`: no plan", "", "`grid plan` failed on this branch (bad config?); see the job log.", ""]
    summary, diff = head["summary"], head.get("diff")
    status = "❌" if summary["mandatory"] else "✅"
    lines = [
        f"### {status} `{stack}` ({head['environment']})",
        "",
        "| | this PR | base | change |",
        "|---|---:|---:|---:|",
    ]
    if diff is None:
        lines.append(f"| resources | {summary['resources']} | n/a | |")
        lines.append(f"| monthly cost | {money(monthly(head))} | n/a | |")
    else:
        steps, cost = diff["summary"], diff["cost"]
        base_count = summary["resources"] - steps["create"] + steps["delete"]
        change = f"+{steps['create']} / ~{steps['update']} / ±{steps['replace']} / -{steps['delete']}"
        lines.append(f"| resources | {summary['resources']} | {base_count} | {change} |")
        lines.append(
            f"| monthly cost | {money(cost['after'])} | {money(cost['before'])} | {money(cost['change'], True)} |"
        )
    violations = f"{summary['mandatory']} mandatory, {summary['advisory']} advisory"
    if diff is not None:
        found = diff["violations"]
        lines.append(f"| violations | {violations} | | {len(found['new'])} new, {len(found['resolved'])} resolved |")
    else:
        lines.append(f"| violations | {violations} | | |")
    budget = (head.get("cost") or {}).get("budget")
    if budget:
        lines.append(f"| budget | {money(float(budget))} | | {monthly(head) / float(budget):.0%} used |")
    lines.append("")
    lines += cost_changes(diff)
    lines += violation_lines(head)
    unpriced = (head.get("cost") or {}).get("unpriced") or []
    if unpriced:
        lines += [
            f"**Unpriced types** (add them to `policies/pricing.py`): {', '.join(f'`{t}`' for t in unpriced)}",
            "",
        ]
    return lines


def cost_changes(diff: dict[str, Any] | None) -> list[str]:
    if diff is None:
        return []
    changes = sorted(diff["cost"]["byType"].items(), key=lambda item: (-abs(item[1]), item[0]))
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
        head = load(directory / f"head-{stack}.json")
        if head is not None and head.get("diff"):
            total_delta += head["diff"]["cost"]["change"]
        lines += stack_section(stack, head)
    lines.append(f"Monthly cost change across stacks: **{money(total_delta, True)}** (list price, `grid plan`).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="holds head-<stack>.json")
    parser.add_argument("stacks", nargs="+")
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.directory, args.stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
