"""Docs that are generated stay generated, and the getting-started commands stay the real ones."""

from __future__ import annotations

import os
from pathlib import Path

from grid.diagram import BEGIN, END, embed, mermaid
from grid.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_architecture_diagram_matches_the_prod_plan() -> None:
    current = ARCHITECTURE.read_text(encoding="utf-8")
    expected = embed(current, make_plan("prod", root=ROOT).to_json())
    if os.environ.get("GRID_UPDATE_DOCS") == "1":
        ARCHITECTURE.write_text(expected, encoding="utf-8")
    assert current == expected, "docs/architecture.md is stale: GRID_UPDATE_DOCS=1 make test, then review"


def test_diagram_collapses_dependencies_to_components() -> None:
    plan = make_plan("prod", root=ROOT).to_json()
    chart = mermaid(plan)
    assert chart.startswith("flowchart LR\n")
    assert "n_grid_prod_api --> n_grid_prod_db" in chart  # the api service reads the database secret
    assert "--> n_grid_prod_apis" not in chart
    assert BEGIN in ARCHITECTURE.read_text() and END in ARCHITECTURE.read_text()
