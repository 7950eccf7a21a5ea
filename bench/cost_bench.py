"""Monthly list-price cost of each shipped stack and of the reference architecture, priced the same way.

The reference (bench/reference/Pulumi.reference.yaml) is shared/reference/002_... configured as a Grid stack.
Prints a Markdown table for docs/benchmarks.md.

    .venv/bin/python bench/cost_bench.py
"""

from __future__ import annotations

from pathlib import Path

from grid.cost import per_component
from grid.plan import make_plan

ROOT = Path(__file__).resolve().parent.parent
STACKS = [("dev", ROOT), ("staging", ROOT), ("prod", ROOT), ("reference", ROOT / "bench" / "reference")]


def main() -> None:
    rows = []
    for stack, root in STACKS:
        document = make_plan(stack, root=root).to_json()
        components = per_component(document)
        top = sorted(components.items(), key=lambda kv: -kv[1])[:3]
        rows.append(
            (
                stack,
                document["summary"]["resources"],
                document["cost"]["monthly"],
                document["cost"].get("budget"),
                ", ".join(f"{name.split('-', 2)[-1]} {amount:.0f}" for name, amount in top),
                document["summary"]["mandatory"],
            )
        )
    print("| stack | resources | USD/month | budget | largest components (USD) | mandatory violations |")
    print("|---|---|---|---|---|---|")
    for stack, count, monthly, budget, top, mandatory in rows:
        print(f"| {stack} | {count} | {monthly:.2f} | {budget or '-'} | {top} | {mandatory} |")
    prod, reference = rows[2][2], rows[3][2]
    print(
        f"\nprod costs {prod / reference:.1%} of the reference architecture ({prod:.2f} vs {reference:.2f} USD/month)."
    )


if __name__ == "__main__":
    main()
