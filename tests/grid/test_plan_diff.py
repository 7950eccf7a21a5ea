"""`grid plan --diff BASE.json` and `grid plan --format mermaid|dot`, run as a user runs them."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from grid import diagram
from grid.plandiff import diff_plans
from tests.grid.test_cli import grid
from tests.grid.test_up import in_terminal

DB = "gcp:sql/databaseInstance:DatabaseInstance"
GW_CONFIG = "gcp:apigateway/apiConfig:ApiConfig"
VERSION = "gcp:secretmanager/secretVersion:SecretVersion"


@pytest.fixture(scope="module")
def dev_plan() -> dict[str, Any]:
    result = grid("plan", "--stack", "dev", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _first(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(r for r in document["resources"] if r["type"] == resource_type)


def _changed_base(dev_plan: dict[str, Any], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A saved plan the dev plan updates, replaces, creates and deletes against; (its path, the moved version)."""
    base = copy.deepcopy(dev_plan)
    _first(base, DB)["inputs"]["settings"]["tier"] = "db-custom-2-7680"  # an update
    _first(base, GW_CONFIG)["inputs"]["openapiDocuments"] = []  # the program's replace_on_changes: a replace
    version = _first(base, VERSION)
    base["resources"].remove(version)  # created by the head
    base["resources"].append({**version, "urn": version["urn"] + "-old", "name": version["name"] + "-old"})
    base["violations"].append({"policy": "gone-policy", "enforcement": "advisory", "urn": None, "message": "x\nold"})
    base["cost"]["monthly"] += 10
    path = tmp_path / "base.json"
    path.write_text(json.dumps(base))
    return path, version


def test_diff_reads_like_pulumi_preview_diff(dev_plan: dict[str, Any], tmp_path: Path) -> None:
    path, version = _changed_base(dev_plan, tmp_path)
    result = grid("plan", "--stack", "dev", "--diff", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"  ~  {DB}  grid-dev-db-instance  update" in out
    assert '      ~ settings.tier: "db-custom-2-7680" => "db-f1-micro"' in out
    assert f"  +- {GW_CONFIG}  grid-dev-gw-config  replace" in out
    assert (
        f"  +  {VERSION}  {version['name']}  create" in out and f"  -  {VERSION}  {version['name']}-old  delete" in out
    )
    assert "Resources: + 1 to create, ~ 1 to update, +- 1 to replace, - 1 to delete;" in out
    assert "Monthly cost: " in out and "(-10.00)" in out
    assert "Resolved violations: 1\n  [advisory] gone-policy: old" in out
    assert "replace-me" not in out and "offline-placeholder" not in out


def test_diff_on_a_terminal_is_coloured_by_what_changes(dev_plan: dict[str, Any], tmp_path: Path) -> None:
    """On a terminal the same lines are drawn with rich: updates yellow, replaces magenta, creates green, deletes
    red, a cost that falls green (piped output above stays plain)."""
    path, _ = _changed_base(dev_plan, tmp_path)
    code, output = in_terminal(["plan", "dev", "--diff", str(path)], "", tmp_path / "log", env={"NO_COLOR": ""})
    assert code == 0, output
    styled = {
        "33": f"{DB}  grid-dev-db-instance  update",
        "35": f"{GW_CONFIG}  grid-dev-gw-config  replace",
        "32": "[advisory] gone-policy: old",
    }
    for colour, text in styled.items():
        assert re.search(rf"\x1b\[[0-9;]*{colour}m[^\x1b]*{re.escape(text)}", output), (colour, text)
    assert re.search(r"\x1b\[[0-9;]*31m[^\x1b]*  -  ", output)  # a delete
    assert re.search(r"\x1b\[[0-9;]*32m[^\x1b]*Monthly cost: ", output)  # 10 USD less than the base


def test_diff_keeps_secrets_secret() -> None:
    base = {"resources": [{"urn": "u", "type": VERSION, "inputs": {"secretData": "[secret]", "labels": {"a": "1"}}}]}
    head = {"resources": [{"urn": "u", "type": VERSION, "inputs": {"secretData": "[secret]", "labels": {"a": "2"}}}]}
    diff = diff_plans(base, head, {"u": ["labels.b"]})
    assert diff["steps"] == [
        {"urn": "u", "type": VERSION, "op": "update", "changes": [{"path": "labels.a", "before": "1", "after": "2"}]}
    ]
    assert diff_plans(base, head, {"u": ["labels"]})["steps"][0]["op"] == "replace"


def test_diff_of_a_bad_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "base.json").write_text("{not json")
    result = grid("plan", "dev", "--diff", str(tmp_path / "base.json"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not JSON" in result.stderr


def test_format_mermaid_and_dot_draw_the_components(dev_plan: dict[str, Any]) -> None:
    result = grid("plan", "--stack", "dev", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout == diagram.dot(dev_plan)
    assert result.stdout.startswith("digraph grid {") and '"grid-dev-api" -> "grid-dev-auth";' in result.stdout
    nodes, edges = diagram.graph(dev_plan)
    assert result.stdout.count(" -> ") == len(edges) and len(nodes) > 3
    assert diagram.mermaid(dev_plan).count(" --> ") == len(edges)
    assert grid("plan", "dev", "--format", "mermaid", "--json").returncode == 2


def test_archives_render_the_same_in_every_run() -> None:
    """An AssetArchive's members by name, a text as its digest: not str(), whose memory address made every plan
    differ from the last (and `--diff` report each function's source as changed)."""
    import pulumi

    from grid.engine import render

    def archive() -> pulumi.AssetArchive:
        return pulumi.AssetArchive({"main.py": pulumi.StringAsset("print(1)"), "lib": pulumi.FileArchive("app/x")})

    assert render(archive()) == render(archive())
    rendered = render(archive())["archive"]
    assert rendered["lib"] == {"asset": "app/x"} and rendered["main.py"].startswith("sha256:")
