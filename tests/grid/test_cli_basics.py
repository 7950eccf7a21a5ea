"""The small things a `pulumi` user expects of `grid`: --version, completion, did-you-mean, help with examples and
exit codes, -C DIR, and the `--json` document's JSON Schema checked against real plans."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema_rs
import pytest

from grid.plandiff import diff_plans
from tests.conftest import REPO_ROOT
from tests.grid.cli_run import run_grid
from tests.grid.test_cli import grid

SCHEMA = json.loads((REPO_ROOT / "grid" / "schemas" / "plan.schema.json").read_text())
# Validated by jsonschema-rs: a plan document in ~5 ms where jsonschema's pure-Python validator took ~0.3 s (and
# `jsonschema.validate` checked the schema itself again on each call), for the nine documents below.
PLAN_SCHEMA = jsonschema_rs.validator_for(SCHEMA)


def test_the_plan_schema_is_a_valid_draft_2020_12_schema() -> None:
    import jsonschema  # here: only this test needs it (~0.1 s to import, in each worker that collects this file)

    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_version_matches_the_project() -> None:
    result = grid("--version")
    version = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M)
    assert result.returncode == 0 and version and result.stdout == f"grid {version.group(1)}\n"


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef grid")])
def test_completion_scripts_know_the_subcommands(shell: str, marker: str) -> None:
    result = grid("completion", shell)
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    for word in ("plan", "preview", "up", "cost", "rollout", "db", "preflight", "local", "--format", "mermaid"):
        assert word in result.stdout


def test_misspelt_subcommand_and_choice_get_a_suggestion() -> None:
    result = grid("pln", "dev")
    assert (
        result.returncode == 2
        and result.stderr == "grid: unknown choice 'pln'; did you mean 'plan'? (see `grid --help`)\n"
    )
    result = grid("plan", "dev", "--format", "mermiad")
    assert result.returncode == 2 and "did you mean 'mermaid'?" in result.stderr


def test_help_has_examples_exit_codes_and_only_repo_documents() -> None:
    result = grid("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "exit codes:" in result.stdout and "grid up staging" in result.stdout
    for path in re.findall(r"\b[\w./-]+\.(?:md|json)\b", result.stdout):
        if not path.endswith(("prod.json",)):  # prod.json is the example's own output file
            assert (REPO_ROOT / path).is_file(), f"--help names {path}, which isn't in the repo"
    assert "../" not in result.stdout


def test_cwd_selects_the_bootstrap_project_by_its_directory(tmp_path: Path) -> None:
    by_path = grid("-C", "bootstrap", "plan", "example", "--json")
    assert by_path.returncode == 0, by_path.stderr
    assert json.loads(by_path.stdout)["project"] == "grid-bootstrap"
    PLAN_SCHEMA.validate(json.loads(by_path.stdout))
    missing = grid("-C", str(tmp_path / "nowhere"), "plan", "dev")
    assert missing.returncode == 2 and missing.stderr.startswith("grid: --cwd ") and missing.stderr.count("\n") == 1


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_json_follows_its_schema(stack: str) -> None:
    result = grid("plan", "--stack", stack, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    PLAN_SCHEMA.validate(document)
    base = json.loads(result.stdout)
    base["resources"] = base["resources"][1:]
    document["diff"] = diff_plans(base, document)
    PLAN_SCHEMA.validate(document)


def test_several_stacks_plan_in_one_process_as_each_alone(shipped_plans) -> None:
    """`grid plan --stack dev --stack dev-external --json`: one object, stack -> the document `grid plan STACK --json`
    prints, each following the schema; the second stack's plan is not disturbed by the first in the same process.
    Both are planned for real here (not the session's plans the other CLI tests share), one after the other: the
    two smallest stacks of the project (the second has no Cloud SQL or Memorystore, so what those components might
    keep from one plan to the next is not what this checks; the session's own plans run one after another in each
    worker, and tests/stacks/test_inventories.py compares every one with its inventory)."""
    result = run_grid("plan", "--stack", "dev", "--stack", "dev-external", "--json", shared_plans=False)
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert list(documents) == ["dev", "dev-external"]
    for stack, document in documents.items():
        PLAN_SCHEMA.validate(document)
        assert document == json.loads(json.dumps(shipped_plans[stack].to_json()))


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--format", "dot"], "--format dot draws one stack"), (["--diff", "base.json"], "--diff compares one stack")],
)
def test_several_stacks_refuse_a_one_stack_option(extra: list[str], message: str) -> None:
    result = grid("plan", "dev", "--stack", "prod", *extra)
    assert result.returncode == 2 and result.stderr.startswith(f"grid: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout


def test_the_command_and_a_kept_plan_load_without_the_sdks(tmp_path: Path) -> None:
    """`grid` itself, and a plan kept on disk (grid/registrations.py), load without the Pulumi SDK or pydantic: a
    command that refuses its input or reads a kept plan answers without paying for them (~0.6 s). So does
    grid/rollout.py, whose `grid rollout` refuses to start without the Pulumi CLI (~0.8 s before)."""
    import pickle
    import subprocess
    import sys

    from tests.conftest import shipped_plan

    kept = tmp_path / "plan.pickle"
    kept.write_bytes(pickle.dumps(shipped_plan("dev")))
    script = (
        "import pickle, sys\n"
        "import grid.cli, grid.plan, grid.rollout\n"
        f"plan = pickle.loads(open({str(kept)!r}, 'rb').read())\n"
        "print(len(plan.run.resources), sorted(m for m in ('pulumi', 'pydantic') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split(maxsplit=1) == [str(len(shipped_plan("dev").run.resources)), "[]\n"]
