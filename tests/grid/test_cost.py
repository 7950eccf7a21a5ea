"""`grid cost`: per-component estimates and the change between two plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grid import cost
from grid.cli import main
from tests.conftest import shipped_plan


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    return {stack: shipped_plan(stack).to_json() for stack in ("dev", "prod")}


def test_components_add_up_to_the_total(plans) -> None:
    for document in plans.values():
        assert sum(cost.per_component(document).values()) == pytest.approx(document["cost"]["monthly"], abs=0.05)


def test_summary_names_components_without_the_stack_prefix(plans) -> None:
    lines = cost.summary_lines(plans["prod"])
    assert lines[0].startswith("Monthly estimate for prod (prod)")
    assert any(line.split()[0] == "db" for line in lines[1:])
    assert lines[-1].split() == ["budget", "1500.00"]


def test_diff_reports_each_component_and_the_total(plans) -> None:
    lines = cost.diff_lines(plans["dev"], plans["prod"])
    db = next(line for line in lines if line.split()[0] == "db").split()
    before, after = cost.per_component(plans["dev"]), cost.per_component(plans["prod"])
    assert float(db[1]) == pytest.approx(before["grid-dev-db"], abs=0.01)
    assert float(db[3]) == pytest.approx(after["grid-prod-db"], abs=0.01)
    total = lines[-1].split()
    assert float(total[-1]) == pytest.approx(
        plans["prod"]["cost"]["monthly"] - plans["dev"]["cost"]["monthly"], abs=0.01
    )


def test_cli_diff_and_bad_input(plans, tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(plans["dev"]))
    b.write_text(json.dumps(plans["prod"]))
    assert main(["cost", "--diff", str(a), str(b)]) == 0
    assert "Monthly cost change dev -> prod" in capsys.readouterr().out
    b.write_text("{not json")
    assert main(["cost", "--diff", str(a), str(b)]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert main(["cost", "--diff", str(a), str(tmp_path / "missing.json")]) == 2


def test_cost_json_as_a_user_runs_it(plans, tmp_path: Path) -> None:
    from tests.grid.test_cli import grid

    result = grid("cost", "dev", "--json")
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)
    assert estimate == cost.summary(plans["dev"])
    assert (estimate["stack"], estimate["currency"], estimate["budget"]) == ("dev", "USD", 18.0)
    assert sum(estimate["components"].values()) == pytest.approx(estimate["monthly"], abs=0.05)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(plans["dev"]))
    b.write_text(json.dumps(plans["prod"]))
    result = grid("cost", "--diff", str(a), str(b), "--json")
    assert result.returncode == 0, result.stderr
    change = json.loads(result.stdout)
    assert (change["before"], change["after"]) == ("dev", "prod")
    assert change["components"]["db"]["change"] > 0
    assert change["total"]["change"] == round(plans["prod"]["cost"]["monthly"] - plans["dev"]["cost"]["monthly"], 2)
