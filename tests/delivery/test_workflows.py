"""The GitHub Actions workflows: valid for actionlint, keyless, least-privilege, pinned, and complete."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grid.plandiff import diff_plans
from grid.stackfile import load_yaml
from tests.conftest import STACKS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict[str, Any]:
    document = load_yaml((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def actionlint() -> str | None:
    local = Path(sys.executable).with_name("actionlint")
    return str(local) if local.exists() else shutil.which("actionlint")


def test_the_expected_workflows_exist() -> None:
    assert {f.name for f in FILES} == {"pr.yml", "deploy.yml", "deploy-stack.yml"}


@pytest.mark.skipif(actionlint() is None, reason="actionlint is not installed")
def test_actionlint_passes() -> None:
    result = subprocess.run(
        [str(actionlint()), "-no-color", "-oneline", *map(str, FILES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_githubs_workflow_schema() -> None:
    """SchemaStore's GitHub workflow schema, vendored in check-jsonschema (offline, always runs): its command run in
    this process through click's test runner (a process of its own cost ~0.3 CPU s more to start)."""
    from check_jsonschema.cli.main_command import main
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--builtin-schema", "vendor.github-workflows", *map(str, FILES)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_long_lived_credentials(path: Path) -> None:
    text = path.read_text()
    for pattern in (r"GCP_SA_KEY", r"credentials_json", r"service_account_key", r"PULUMI_ACCESS_TOKEN"):
        assert not re.search(pattern, text), f"{path.name} uses {pattern}"
    # The only secret any workflow reads is the job's own GITHUB_TOKEN.
    assert set(re.findall(r"secrets\.(\w+)", text)) <= {"GITHUB_TOKEN"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_release(path: Path) -> None:
    for step in steps(load(path.name)):
        uses = step.get("uses")
        if uses is None:
            continue
        _, _, ref = uses.partition("@")
        assert ref, f"{uses}: not pinned"
        assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", ref), f"{uses}: pin a release tag or commit"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_permissions_are_minimal(path: Path) -> None:
    document = load(path.name)
    assert document["permissions"] == {"contents": "read"}, "workflow-level permissions must be read-only"
    for name, job in document["jobs"].items():
        granted = job.get("permissions", {})
        assert set(granted.values()) <= {"read", "write"}, name
        authenticates = any("google-github-actions/auth" in s.get("uses", "") for s in job.get("steps", []))
        calls_deploy = job.get("uses", "").endswith("deploy-stack.yml")
        if granted.get("id-token") == "write":
            assert authenticates or calls_deploy, f"{name} gets an OIDC token it never uses"
        else:
            assert not authenticates, f"{name} authenticates to Google without id-token: write"


def test_pull_requests_test_plan_comment_and_preview_read_only() -> None:
    pr = load("pr.yml")
    assert "pull_request" in pr["on"]
    assert any("make test" in s.get("run", "") for s in pr["jobs"]["test"]["steps"])
    assert pr["jobs"]["plan"]["strategy"]["matrix"]["stack"] == list(STACKS)
    plan_runs = " ".join(s.get("run", "") for s in pr["jobs"]["plan"]["steps"])
    assert 'grid plan --stack "$STACK" --json "${base[@]}" > "plans/head-$STACK.json"' in plan_runs
    assert 'base=(--diff "plans/base-$STACK.json")' in plan_runs  # the change is `grid plan --diff`'s
    names = [s.get("name") for s in pr["jobs"]["plan"]["steps"]]
    assert names.index("Plan the base branch") < names.index("Plan this branch")
    assert 'grid plan --stack "$STACK" --json > "../plans/base-$STACK.json"' in plan_runs
    assert any(
        s.get("with", {}).get("ref") == "${{ github.event.pull_request.base.sha }}" for s in pr["jobs"]["plan"]["steps"]
    )
    assert any("plan_comment.py plans dev staging prod" in s.get("run", "") for s in pr["jobs"]["comment"]["steps"])
    preview = pr["jobs"]["preview"]
    auth = next(s for s in preview["steps"] if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert auth["with"]["service_account"] == "${{ vars.GCP_PREVIEWER_SERVICE_ACCOUNT }}"
    assert "workload_identity_provider" in auth["with"]
    pulumi = next(s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "policies/config/${{ env.GRID_ENVIRONMENT }}.json"


def test_main_deploys_staging_then_prod_behind_approval() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    jobs = deploy["jobs"]
    assert jobs["staging"]["needs"] == "test" and jobs["prod"]["needs"] == "staging"
    assert jobs["staging"]["with"] == {"stack": "staging", "environment": "staging"}
    # The `production` environment carries the required reviewers and the deployer's variables.
    assert jobs["prod"]["with"] == {"stack": "prod", "environment": "production"}


def test_a_stack_deploy_migrates_smokes_the_candidate_then_promotes_or_rolls_back() -> None:
    job = load("deploy-stack.yml")["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    names = [s.get("name") or s["uses"].split("@")[0] for s in job["steps"]]
    order = ["docker/setup-buildx-action", "pulumi up (policy pack included)", "Run migrations",
             "Smoke test the candidate revisions", "Promote", "Roll back"]  # fmt: skip
    assert [n for n in names if n in order] == order
    by_name = {s.get("name"): s for s in job["steps"]}
    auth = next(s for s in job["steps"] if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert auth["with"]["service_account"] == "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}"
    assert "gcloud run jobs execute" in by_name["Run migrations"]["run"]
    assert "--wait" in by_name["Run migrations"]["run"]
    assert ".github/scripts/smoke.py" in by_name["Smoke test the candidate revisions"]["run"]
    assert 'grid rollout "$STACK" "$service" promote' in by_name["Promote"]["run"]
    assert 'grid rollout "$STACK" "$service" rollback' in by_name["Roll back"]["run"]
    assert by_name["Roll back"]["if"].startswith("${{ failure()")
    # The rollout decision is kept in the stack's state, not in this runner's stack file (grid/rollout.py).
    assert not any("Pulumi." in str((s.get("with") or {}).get("path", "")) for s in job["steps"])
    outputs = by_name["Stack outputs"]["run"]
    # Candidates are smoke-tested through the load balancer's candidate host (services only accept the LB).
    assert "candidate-url=https://{outputs['candidateHost']}" in outputs
    assert "candidate-url" in by_name["Smoke test the candidate revisions"]["run"]


def _plan(stack: str, monthly: float, urns: list[str], violations: list[dict[str, str]]) -> dict[str, Any]:
    mandatory = sum(v["enforcement"] == "mandatory" for v in violations)
    return {
        "stack": stack,
        "environment": stack,
        "resources": [{"urn": u, "type": "gcp:sql/databaseInstance:DatabaseInstance"} for u in urns],
        "violations": violations,
        "cost": {
            "monthly": monthly,
            "resources": [{"urn": urns[0], "type": "gcp:sql/databaseInstance:DatabaseInstance", "monthly": monthly}],
            "unpriced": [],
            "budget": 200.0,
        },
        "summary": {"resources": len(urns), "mandatory": mandatory, "advisory": len(violations) - mandatory},
    }


def test_plan_comment_reports_delta_and_violations(tmp_path: Path) -> None:
    violation = {"policy": "sql-ssl-required", "enforcement": "mandatory", "urn": "urn:pulumi:prod::grid::x::db",
                 "message": "ssl | off"}  # fmt: skip
    base, head = _plan("prod", 100.0, ["a", "b"], []), _plan("prod", 125.5, ["a", "c", "d"], [violation])
    head["diff"] = diff_plans(base, head)  # what `grid plan --json --diff base.json` adds
    (tmp_path / "head-prod.json").write_text(json.dumps(head))
    (tmp_path / "head-dev.json").write_text(json.dumps(_plan("dev", 5.0, ["a"], [])))
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "plan_comment.py"), str(tmp_path), "dev", "prod", "staging"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    body = result.stdout
    assert body.startswith("<!-- grid-plan-comment -->")
    assert "| monthly cost | $125.50 | $100.00 | +$25.50 |" in body
    assert "| resources | 3 | 2 | +2 / ~0 / ±0 / -1 |" in body
    assert "| violations | 1 mandatory, 0 advisory | | 1 new, 0 resolved |" in body
    assert "| `gcp:sql/databaseInstance:DatabaseInstance` | +$25.50 |" in body
    assert "### ❌ `prod` (prod)" in body and "### ✅ `dev` (dev)" in body
    assert "| `sql-ssl-required` | mandatory | `db` | ssl \\| off |" in body
    assert "### `staging`: no plan" in body
    assert "Monthly cost change across stacks: **+$25.50**" in body
