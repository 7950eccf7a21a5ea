"""CI can decrypt every stack it previews or deploys: the stack files, the workflows and the bootstrap agree.

Pulumi decrypts a stack's ``secure:`` config with the provider its stack file names: the passphrase provider
needs ``PULUMI_CONFIG_PASSPHRASE`` (a long-lived secret CI must not hold), ``gcpkms://`` needs Google credentials
that may use the key. https://www.pulumi.com/docs/iac/concepts/secrets/#configuring-secrets-encryption
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bootstrap.program import PREVIEWER_ACCOUNT, deployer_account
from grid.plan import Plan
from grid.stackfile import read_stack_file
from tests.conftest import DEPLOYED_STACKS, REPO_ROOT, STACKS, shipped_plan
from tests.delivery.test_workflows import load

KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
# Roles that include cloudkms.cryptoKeyVersions.useToDecrypt: https://cloud.google.com/kms/docs/reference/permissions-and-roles
DECRYPTING_ROLES = {"roles/cloudkms.cryptoKeyDecrypter", "roles/cloudkms.cryptoKeyEncrypterDecrypter"}
# Which bootstrap identity each workflow variable holds (the workflows' header comments say the same).
IDENTITY_OF_VARIABLE = {
    "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}": deployer_account,
    "${{ vars.GCP_PREVIEWER_SERVICE_ACCOUNT }}": lambda stack: PREVIEWER_ACCOUNT,
}
PULUMI_COMMANDS = ("grid up", "grid preview", "grid rollout", "pulumi ")


@pytest.fixture(scope="module")
def bootstrap() -> Plan:
    return shipped_plan("example", project="bootstrap")


def _runs_pulumi(step: dict[str, Any]) -> bool:
    if step.get("uses", "").startswith("pulumi/actions@"):
        return "command" in step.get("with", {})  # without a command the action only installs the CLI
    return any(command in step.get("run", "") for command in PULUMI_COMMANDS)


def pulumi_jobs() -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    """(where, job, stacks) for every job that runs Pulumi against a stack."""
    deploy_calls = [job["with"]["stack"] for job in load("deploy.yml")["jobs"].values() if "with" in job]
    for workflow in ("pr.yml", "deploy-stack.yml"):
        for name, job in load(workflow)["jobs"].items():
            if not any(_runs_pulumi(step) for step in job.get("steps", [])):
                continue
            matrix = job.get("strategy", {}).get("matrix", {}).get("stack")
            yield f"{workflow}:{name}", job, list(matrix) if matrix else deploy_calls


def test_ci_runs_pulumi_on_every_stack() -> None:
    covered = {stack for _, _, stacks in pulumi_jobs() for stack in stacks}
    assert covered == set(DEPLOYED_STACKS)


def test_every_stack_file_names_the_bootstraps_kms_key(bootstrap: Plan) -> None:
    for stack in STACKS:
        provider = read_stack_file(REPO_ROOT, stack).secrets_provider
        assert provider == bootstrap.run.outputs["secretsProvider"], f"Pulumi.{stack}.yaml: secretsprovider"


def test_each_job_provides_what_its_stacks_secrets_provider_needs(bootstrap: Plan) -> None:
    grants = {
        (r.to_json()["inputs"]["member"], r.to_json()["inputs"]["cryptoKeyId"])
        for r in bootstrap.run.resources
        if r.type == KEY_MEMBER and r.to_json()["inputs"]["role"] in DECRYPTING_ROLES
    }
    ops_project = read_stack_file(REPO_ROOT.joinpath("bootstrap"), "example", "grid-bootstrap").values["gcp:project"]
    for where, job, stacks in pulumi_jobs():
        steps = job["steps"]
        first_pulumi = next(i for i, step in enumerate(steps) if _runs_pulumi(step))
        auth = [s for s in steps[:first_pulumi] if s.get("uses", "").startswith("google-github-actions/auth@")]
        env = {**job.get("env", {}), **{k: v for s in steps for k, v in s.get("env", {}).items()}}
        for stack in stacks:
            provider = read_stack_file(REPO_ROOT, stack).secrets_provider
            if provider == "passphrase":
                assert {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & set(env), (
                    f"{where}: Pulumi.{stack}.yaml uses the passphrase provider but the job sets no passphrase"
                )
                continue
            assert provider.startswith("gcpkms://"), f"{where}: Pulumi.{stack}.yaml: unsupported {provider}"
            assert auth, f"{where}: runs Pulumi on {stack} (gcpkms) before authenticating to Google"
            identity = IDENTITY_OF_VARIABLE[auth[-1]["with"]["service_account"]](stack)
            member = f"serviceAccount:{identity}@{ops_project}.iam.gserviceaccount.com"
            key = provider.removeprefix("gcpkms://")
            assert (member, key) in grants, f"{where}: {identity} may not decrypt with {key} ({stack})"


def test_the_check_fails_for_a_passphrase_stack(monkeypatch: pytest.MonkeyPatch, bootstrap: Plan) -> None:
    """The regression: passphrase-encrypted stack files and a workflow that sets no passphrase."""
    original = read_stack_file

    def as_passphrase(root: Any, stack: str, project: str = "grid") -> Any:
        return replace(original(root, stack, project), secrets_provider="passphrase")

    monkeypatch.setitem(globals(), "read_stack_file", as_passphrase)
    with pytest.raises(AssertionError, match="sets no passphrase"):
        test_each_job_provides_what_its_stacks_secrets_provider_needs(bootstrap)


def test_the_getting_started_guide_names_the_same_key(bootstrap: Plan) -> None:
    guide = (REPO_ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert f"--secrets-provider {bootstrap.run.outputs['secretsProvider']}" in guide
    # Moving an existing stack re-encrypts its secrets; re-initialising would leave them undecryptable.
    assert f"pulumi stack change-secrets-provider -s dev {bootstrap.run.outputs['secretsProvider']}" in guide
    assert "passphrase" not in (REPO_ROOT / "README.md").read_text(encoding="utf-8").lower()
