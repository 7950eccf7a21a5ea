"""The deploy waits for DNS and the managed certificate before smoke testing, and rolls back only what it promoted.

The Promote and Roll back steps' shell runs here as GitHub runs it (bash -eo pipefail), against a fake
``.venv/bin/grid`` that records its calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT as ROOT
from tests.delivery.test_workflows import load

JOB = load("deploy-stack.yml")["jobs"]["deploy"]
STEPS = {step.get("name"): step for step in JOB["steps"]}
NAMES = [step.get("name") for step in JOB["steps"]]
WAIT = "Wait for DNS and the managed certificate"

# A shell script, not Python (~40 ms a start even without site): it logs the command line and answers what
# FAKE_GRID_REPLIES/<the words joined by _>.text says, exiting with .code, or "ok <command line>" and 0.
_FAKE_GRID = """#!/bin/sh
key="$*"
printf '%s\\n' "$key" >> "$FAKE_GRID_LOG"
IFS=_
reply="$FAKE_GRID_REPLIES/$*"
if [ -f "$reply.text" ]; then
    cat "$reply.text"
    read -r code < "$reply.code"
    exit "$code"
fi
echo "ok $key"
"""


def test_the_certificate_wait_comes_before_any_smoke_test() -> None:
    assert NAMES.index("Stack outputs") < NAMES.index(WAIT) < NAMES.index("Smoke test the candidate revisions")
    wait = STEPS[WAIT]
    assert "python -m grid.certificate" in wait["run"]
    assert wait["env"]["TLS_HOSTS"] == "${{ steps.outputs.outputs.tls-hosts }}"
    assert '--address "${{ steps.outputs.outputs.address }}"' in wait["run"]
    # Bounded, and the bound leaves the job time to deploy and test afterwards.
    timeout = int(wait["run"].split("--timeout ")[1].split()[0])
    assert 0 < timeout <= 3600 < JOB["timeout-minutes"] * 60 - 1800
    outputs = STEPS["Stack outputs"]["run"]
    assert 'print(f"tls-hosts=' in outputs and 'outputs.get("candidateHost")' in outputs


def test_rollback_does_not_wait_for_the_certificate() -> None:
    assert STEPS["Roll back"]["if"] == "${{ failure() && steps.outputs.outcome == 'success' }}"
    assert "certificate" not in STEPS["Roll back"]["run"] and "smoke" not in STEPS["Roll back"]["run"]


def run_step(name: str, tmp_path: Path, replies: dict[str, Any] | None = None) -> tuple[int, str, list[str]]:
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True, exist_ok=True)
    grid = venv / "grid"
    grid.write_text(_FAKE_GRID)
    grid.chmod(0o755)
    answers = tmp_path / f"grid-replies-{len(list(tmp_path.glob('grid-replies-*')))}"  # this run's own
    answers.mkdir()
    for command, (code, text) in (replies or {}).items():
        reply = command.replace(" ", "_")  # the fake's file name for this command line
        (answers / f"{reply}.text").write_text(text + "\n")
        (answers / f"{reply}.code").write_text(f"{code}\n")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    log = tmp_path / "grid.log"
    log.touch()
    env = {"PATH": "/usr/bin:/bin", "STACK": "prod", "RUNNER_TEMP": str(runner_temp), "FAKE_GRID_LOG": str(log),
           "FAKE_GRID_REPLIES": str(answers)}  # fmt: skip
    script = tmp_path / "step.sh"
    script.write_text(STEPS[name]["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr, log.read_text().splitlines()


def test_a_failure_before_promotion_rolls_nothing_back(tmp_path: Path) -> None:
    """The regression: rolling back every service after a failed candidate smoke test undid the last release."""
    code, output, calls = run_step("Roll back", tmp_path)
    assert code == 0 and calls == []
    assert "nothing to roll back" in output


def test_only_the_services_this_run_promoted_are_rolled_back(tmp_path: Path) -> None:
    replies = {"rollout prod api promote": [2, "grid: grid-prod-api-00007 already serves all traffic of api"]}
    code, _, calls = run_step("Promote", tmp_path, replies)
    assert code == 0
    assert (tmp_path / "runner-temp" / "promoted").read_text().split() == ["auth", "ai"]
    code, _, calls = run_step("Roll back", tmp_path)
    assert code == 0
    assert calls[-2:] == ["rollout prod auth rollback", "rollout prod ai rollback"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("grid: auth has no previous revision to roll back to", 0), ("grid: pulumi up failed", 1)],
)
def test_a_first_release_has_nothing_to_return_to(tmp_path: Path, reply: str, expected: int) -> None:
    (tmp_path / "runner-temp").mkdir()
    (tmp_path / "runner-temp" / "promoted").write_text("auth\n")
    code, output, calls = run_step("Roll back", tmp_path, {"rollout prod auth rollback": [2, reply]})
    assert (code, calls) == (expected, ["rollout prod auth rollback"])
    assert reply in output


@pytest.mark.parametrize(
    ("gateway", "candidate", "tls_hosts"),
    [
        ("loadBalancer", "candidate.api.acme.example", "api.acme.example candidate.api.acme.example"),
        ("apiGateway", None, ""),  # API Gateway's own hostname has Google's certificate: nothing to wait for
    ],
)
def test_stack_outputs_name_the_certificate_hosts(tmp_path: Path, gateway: str, candidate: str | None,
                                                  tls_hosts: str) -> None:  # fmt: skip
    outputs = {"migrationJob": "grid-prod-migrate", "gateway": gateway, "gatewayAddress": "34.120.1.2",
               "gatewayHosts": ["api.acme.example"], "candidateHost": candidate}  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(f"#!/bin/sh\necho '{json.dumps(outputs)}'\n")
    pulumi.chmod(0o755)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "Pulumi.prod.yaml").write_text((ROOT / "Pulumi.prod.yaml").read_text())
    github_output = tmp_path / "github-output"
    script = tmp_path / "step.sh"
    script.write_text(STEPS["Stack outputs"]["run"])
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STACK": "prod", "GITHUB_OUTPUT": str(github_output)}
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    values = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    assert values["tls-hosts"] == tls_hosts
    assert values["address"] == "34.120.1.2" and values["project"] == "acme-grid-prod"
