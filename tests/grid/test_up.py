"""`grid up` as `pulumi up` users expect it: a preview with Grid's verdicts and the cost change, then a question,
and nothing changed without a yes, against a fake Automation API (tests/grid/fake_automation.py).

The question is answered on a pseudo-terminal (tests/grid/cli_run.py ``run_grid_on_terminal``, also used by
test_terminal.py and test_plan_diff.py for colour and width); the refusal when stdin is not a terminal runs the
`python -m grid.cli` entry point reading /dev/null; `--yes --json` runs in-process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.grid.cli_run import run_grid, run_grid_on_terminal, run_grid_process


def _fake_automation(log: Path) -> dict[str, str]:
    return {
        "GRID_PULUMI_AUTOMATION": "tests.grid.fake_automation",
        "GRID_FAKE_AUTOMATION_LOG": str(log),
        "NO_COLOR": "1",
    }


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def in_terminal(
    args: list[str], answer: str, log: Path, columns: int = 120, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run `grid ARGS` on a pseudo-terminal ``columns`` wide; type ``answer`` when it asks. (exit code, output)"""
    return run_grid_on_terminal(*args, answer=answer, columns=columns, env={**_fake_automation(log), **(env or {})})


def test_up_without_a_terminal_refuses_to_ask(tmp_path: Path) -> None:
    """The entry point reading /dev/null (as in CI), and --json in-process (its input is no terminal either)."""
    log = tmp_path / "calls.jsonl"
    process = run_grid_process("up", "dev", env=_fake_automation(log), timeout=120)
    in_process = run_grid("up", "dev", "--json", env=_fake_automation(log))
    for result in (process, in_process):
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "--yes" in result.stderr, result.stderr
    assert _calls(log) == []  # refused before touching the stack


def test_a_question_nobody_answers_is_a_no(tmp_path: Path) -> None:
    """On a terminal with nothing typed, the end of input (what the test harness sends) declines: no hang."""
    log = tmp_path / "calls.jsonl"
    code, output = in_terminal(["up", "dev"], "", log)
    assert code == 1 and "confirmation declined" in output, output
    assert [c["call"] for c in _calls(log)] == ["select_stack", "preview"]


def test_up_declined_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    code, output = in_terminal(["up", "dev"], "no", log)
    assert code == 1, output
    preview_at = output.index("Previewing update (fake)")
    assert preview_at < output.index("Policy violations: none") < output.index("[yes/no]")
    # The fake stack has one deployed Cloud SQL instance; the plan's dev stack costs less.
    assert "Monthly cost: 100.32 -> " in output
    assert "confirmation declined" in output
    assert [c["call"] for c in _calls(log)] == ["select_stack", "preview"]


def test_up_confirmed_passes_pulumi_options_through(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    urn = "urn:pulumi:dev::grid::grid:database:Database::grid-dev-db"
    code, output = in_terminal(["up", "dev", "--target", urn, "--refresh", "--diff"], "yes", log)
    assert code == 0, output
    calls = _calls(log)
    assert [c["call"] for c in calls] == ["select_stack", "preview", "up"]
    preview, up = calls[1], calls[2]
    for call in (preview, up):
        assert call["target"] == [urn] and call["refresh"] is True and call["diff"] is True
        assert call["policy_packs"] == [str(REPO_ROOT / "policies")]
    assert up["show_secrets"] is False
    assert output.index("[yes/no]") < output.index("Updating (fake)")


def test_up_yes_json_is_one_document(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    result = run_grid("up", "dev", "--yes", "--json", env=_fake_automation(log))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["result"] == "succeeded" and document["changeSummary"] == {"create": 3, "same": 1}
    assert document["grid"]["mandatory"] == 0 and document["grid"]["cost"]["deployed"] == 100.32
    assert "Previewing update (fake)" in result.stderr  # Pulumi's own text goes to stderr under --json
    assert [c["call"] for c in _calls(log)] == ["select_stack", "preview", "up"]
