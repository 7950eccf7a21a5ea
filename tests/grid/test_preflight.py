"""`grid preflight`: the checklist follows the plan; with gcloud it checks each item (here a fake gcloud on PATH)."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grid import cli, preflight
from grid.plan import Plan, make_plan
from grid.stackfile import StackFile, read_stack_file
from tests.conftest import REPO_ROOT
from tests.grid.fake_gcloud import error, install, ok

PROJECT = "acme-grid-prod"
ADDRESS = "34.120.1.2"
DEPLOYER = "serviceAccount:grid-deployer-prod@acme-grid-ops.iam.gserviceaccount.com"
KEY = "projects/acme-grid-ops/locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets"
GPU_QUOTA = "NvidiaL4GpuAllocNoZonalRedundancyPerProjectRegion"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan("prod", root=REPO_ROOT)


@pytest.fixture(scope="module")
def resources(plan: Plan) -> list[dict[str, Any]]:
    return plan.to_json()["resources"]


@pytest.fixture(scope="module")
def stack_file() -> StackFile:
    # As after `pulumi stack init --secrets-provider gcpkms://...`: the secure values are under the stack's key.
    return replace(read_stack_file(REPO_ROOT, "prod"), has_encrypted_key=True)


def certificates(resources: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    (cert,) = [r for r in resources if r["type"] == preflight.CERTIFICATE]
    return [
        {
            "name": f"{cert['name']}-1a2b3c4",
            "managed": {"domains": cert["inputs"]["managed"]["domains"], "status": status},
        }
    ]


def passing(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Canned answers of a project that is ready, to the exact commands preflight runs."""
    (address,) = [r for r in resources if r["type"] == preflight.ADDRESS and r["name"].endswith("-lb-ip")]
    return {
        "auth list --filter=status:ACTIVE --format=json": [ok([{"account": "ann@acme.example", "status": "ACTIVE"}])],
        f"services list --enabled --project={PROJECT} --format=json": [
            ok([{"config": {"name": api}} for api in ("cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com")])
        ],
        "services list --enabled --project=acme-grid-ops --format=json": [ok([{"config": {"name": "billingbudgets.googleapis.com"}}])],
        f"billing projects describe {PROJECT} --format=json": [
            ok({"billingEnabled": True, "billingAccountName": "billingAccounts/0A1B2C-3D4E5F-6A7B8C"})
        ],
        "billing accounts get-iam-policy 0A1B2C-3D4E5F-6A7B8C --format=json": [
            ok({"bindings": [{"role": "roles/billing.costsManager", "members": [DEPLOYER]}]})
        ],
        f"beta quotas info describe {GPU_QUOTA} --service=run.googleapis.com --project={PROJECT} --format=json": [
            ok({"dimensionsInfos": [{"dimensions": {"region": "us-central1"}, "details": {"value": "3"}}, {"details": {"value": "0"}}]})
        ],
        f"org-policies describe iam.allowedPolicyMemberDomains --project={PROJECT} --effective --format=json": [
            ok({"spec": {"rules": [{"allowAll": True}]}})
        ],
        f"org-policies describe run.managed.requireInvokerIam --project={PROJECT} --effective --format=json": [ok({})],
        f"org-policies describe iam.automaticIamGrantsForDefaultServiceAccounts --project={PROJECT} --effective --format=json": [
            ok({"spec": {"rules": [{"enforce": True}]}})
        ],
        f"projects describe {PROJECT} --format=json": [ok({"projectNumber": "776129313"})],
        f"projects get-iam-policy {PROJECT} --format=json": [
            ok({"bindings": [{"role": "roles/cloudbuild.builds.builder", "members": ["serviceAccount:776129313-compute@developer.gserviceaccount.com"]}]})
        ],
        "iam service-accounts describe grid-deployer-prod@acme-grid-ops.iam.gserviceaccount.com --project=acme-grid-ops --format=json": [
            ok({"email": DEPLOYER.removeprefix("serviceAccount:")})
        ],
        f"kms keys get-iam-policy {KEY} --format=json": [
            ok({"bindings": [{"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "members": [DEPLOYER]}]})
        ],
        f"compute addresses list --global --project={PROJECT} --format=json": [
            ok([{"name": f"{address['name']}-2ce179f", "address": ADDRESS}])
        ],
        f"compute ssl-certificates list --project={PROJECT} --format=json": [ok(certificates(resources, "ACTIVE"))],
    }  # fmt: skip


def at_address(host: str) -> set[str]:
    return {ADDRESS}


def keys(checks: list[preflight.Check]) -> list[str]:
    return [c.key for c in checks]


def test_prod_lists_every_prerequisite_that_applies(resources: list[dict[str, Any]], stack_file: StackFile) -> None:
    checks = preflight.derive_checks("prod", resources, stack_file)
    found = keys(checks)
    for key in ("apis", "billing-link", "budget-permission-0A1B2C-3D4E5F-6A7B8C", f"quota-{GPU_QUOTA}-us-central1",
                "external-accounts", "secrets-provider", "dns-grid-prod-lb-cert"):  # fmt: skip
        assert key in found
    public = any(m in preflight.PUBLIC_MEMBERS for r in resources for m in preflight._members(r["inputs"]))
    assert ("domain-restricted-sharing" in found) == public
    no_check = any(r["inputs"].get("invokerIamDisabled") for r in resources if r["type"] == preflight.CLOUD_RUN)
    assert ("invoker-iam-check" in found) == no_check and (public or no_check)
    default_build = any(
        not (r["inputs"].get("buildConfig") or {}).get("serviceAccount")
        for r in resources
        if r["type"] == preflight.FUNCTION
    )
    assert ("default-build-account" in found) == default_build
    overridden = any(
        str(r["inputs"].get("userProjectOverride")).lower() == "true"
        for r in resources
        if r["type"] == preflight.PROVIDER
    )
    assert ("budget-api" in found) == (not overridden)
    for check in checks:
        assert check.why and check.needed_by and check.command.startswith(("gcloud ", "dig ")) and check.fix
        assert check.docs.startswith("https://cloud.google.com/")
    (quota,) = [c for c in checks if c.key.startswith("quota-")]
    assert quota.needed_by == ("grid-prod-ai-service",) and ">= 3 in us-central1" in quota.title
    (accounts,) = [c for c in checks if c.key == "external-accounts"]
    assert "gcp-sa-" not in accounts.command  # Google's service agents are not prerequisites


def test_checks_follow_the_plan_not_the_stack_name(resources: list[dict[str, Any]], stack_file: StackFile) -> None:
    changed = copy.deepcopy(resources)
    for resource in changed:
        inputs = resource["inputs"]
        if resource["type"] == preflight.CLOUD_RUN:  # no GPU, and public through the invoker setting instead
            inputs["template"].pop("nodeSelector", None)
            for container in inputs["template"].get("containers", []):
                container.get("resources", {}).get("limits", {}).pop(preflight.GPU_LIMIT, None)
            inputs["invokerIamDisabled"] = True
        if inputs.get("member") in preflight.PUBLIC_MEMBERS:
            inputs["member"] = "serviceAccount:grid-prod-invoker@acme-grid-prod.iam.gserviceaccount.com"
        if resource["type"] == preflight.PROVIDER:  # budget calls billed to the stack's project, which enables the API
            inputs.update(userProjectOverride="true", billingProject=PROJECT)
        if resource["type"] == preflight.FUNCTION:
            inputs.setdefault("buildConfig", {})["serviceAccount"] = (
                "projects/p/serviceAccounts/build@p.iam.gserviceaccount.com"
            )
    found = keys(preflight.derive_checks("prod", changed, stack_file))
    assert "invoker-iam-check" in found
    assert not {"domain-restricted-sharing", "default-build-account", "budget-api"} & set(found)
    assert not [k for k in found if k.startswith("quota-")]


def test_offline_prints_the_checklist(plan: Plan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setattr("grid.plan.make_plan", lambda stack, **_: plan)
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud here
    assert cli.main(["preflight", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Preflight of prod (acme-grid-prod): ") and "not checked" in out
    assert f"check: gcloud beta quotas info describe {GPU_QUOTA}" in out
    assert "[PASS]" not in out and "[FAIL]" not in out


def test_online_all_pass(resources: list[dict[str, Any]], stack_file: StackFile, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    log = install(tmp_path, monkeypatch, passing(resources))
    checks = preflight.derive_checks("prod", resources, stack_file, resolver=at_address)
    verdicts = preflight.run_checks(checks)
    assert [(c.key, v.status) for c, v in zip(checks, verdicts, strict=True) if v.status != preflight.PASS] == []
    assert set(log.read_text().splitlines()) <= set(passing(resources))  # only the commands it documents


def test_online_failures_say_what_is_wrong(resources: list[dict[str, Any]], stack_file: StackFile, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    answers = passing(resources)
    answers[f"services list --enabled --project={PROJECT} --format=json"] = [
        ok([{"config": {"name": "serviceusage.googleapis.com"}}])
    ]
    answers[f"billing projects describe {PROJECT} --format=json"] = [ok({"billingEnabled": False})]
    answers["services list --enabled --project=acme-grid-ops --format=json"] = [ok([])]
    answers["billing accounts get-iam-policy 0A1B2C-3D4E5F-6A7B8C --format=json"] = [
        error("PERMISSION_DENIED: The caller does not have permission")
    ]
    answers[f"beta quotas info describe {GPU_QUOTA} --service=run.googleapis.com --project={PROJECT} --format=json"] = [
        ok({"dimensionsInfos": [{"details": {"value": "0"}}]})
    ]
    answers[f"org-policies describe iam.allowedPolicyMemberDomains --project={PROJECT} --effective --format=json"] = [
        ok({"spec": {"rules": [{"values": {"allowedValues": ["C0abc123"]}}]}})
    ]
    answers[f"org-policies describe run.managed.requireInvokerIam --project={PROJECT} --effective --format=json"] = [
        ok({"spec": {"rules": [{"enforce": True}]}})
    ]
    answers[f"projects get-iam-policy {PROJECT} --format=json"] = [ok({"bindings": []})]
    answers[f"kms keys get-iam-policy {KEY} --format=json"] = [ok({"bindings": []})]
    install(tmp_path, monkeypatch, answers)
    checks = preflight.derive_checks("prod", resources, stack_file, resolver=lambda host: set())
    verdicts = {c.key: v for c, v in zip(checks, preflight.run_checks(checks), strict=True)}
    assert verdicts["apis"].detail == "not enabled: cloudresourcemanager.googleapis.com"
    assert "has no billing account" in verdicts["billing-link"].detail
    if "budget-api" in verdicts:
        assert verdicts["budget-api"].detail == "billingbudgets.googleapis.com is not enabled in acme-grid-ops"
    assert verdicts["budget-permission-0A1B2C-3D4E5F-6A7B8C"].detail.endswith("The caller does not have permission")
    assert verdicts[f"quota-{GPU_QUOTA}-us-central1"].detail == f"{GPU_QUOTA} in us-central1 is 0, the plan scales to 3"
    assert "may not encrypt/decrypt" in verdicts["secrets-provider"].detail
    assert "add the DNS record `api.acme.example. A 34.120.1.2`" in verdicts["dns-grid-prod-lb-cert"].detail
    for key in ("domain-restricted-sharing", "invoker-iam-check"):
        if key in verdicts:
            assert "is enforced" in verdicts[key].detail
    if "default-build-account" in verdicts:
        assert "iam.automaticIamGrantsForDefaultServiceAccounts is enforced" in verdicts["default-build-account"].detail
    assert all(v.status == preflight.FAIL for k, v in verdicts.items() if k != "external-accounts")


def test_before_the_first_deploy_dns_is_pending_not_failed(resources: list[dict[str, Any]], stack_file: StackFile,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    answers = passing(resources)
    answers[f"compute addresses list --global --project={PROJECT} --format=json"] = [ok([])]
    install(tmp_path, monkeypatch, answers)
    (dns,) = [c for c in preflight.derive_checks("prod", resources, stack_file) if c.key.startswith("dns-")]
    assert dns.probe().status == preflight.PENDING
    answers[f"compute addresses list --global --project={PROJECT} --format=json"] = passing(resources)[
        f"compute addresses list --global --project={PROJECT} --format=json"
    ]
    answers[f"compute ssl-certificates list --project={PROJECT} --format=json"] = [
        ok(certificates(resources, "PROVISIONING"))
    ]
    install(tmp_path, monkeypatch, answers)
    (dns,) = [c for c in preflight.derive_checks("prod", resources, stack_file, at_address) if c.key.startswith("dns-")]
    verdict = dns.probe()
    assert verdict.status == preflight.PENDING and "PROVISIONING" in verdict.detail


def test_command_line_exits_1_when_a_check_fails(plan: Plan, resources: list[dict[str, Any]], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The shipped prod file's secure values are acme's, not under a key of this stack: preflight says so."""
    monkeypatch.setattr("grid.plan.make_plan", lambda stack, **_: plan)
    install(tmp_path, monkeypatch, passing(resources))
    monkeypatch.setattr(preflight.certificate, "resolve", at_address)
    assert cli.main(["preflight", "--stack", "prod"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] CI can decrypt the stack's secrets" in out and "has secure values but no encryptedkey" in out
    assert out.rstrip().endswith("1 failed, 0 pending (after the first deploy)")


def test_an_existing_stack_is_moved_to_the_key_with_change_secrets_provider(resources: list[dict[str, Any]]) -> None:
    """`pulumi stack init --secrets-provider` fails on a stack that exists (or gives it a new data key that strands
    its secure values): every suggestion names change-secrets-provider, and `stack init` only for a new stack."""
    shipped = read_stack_file(REPO_ROOT, "prod")  # secure values, but no encryptedkey of this stack
    (check,) = [
        c for c in preflight.derive_checks("prod", resources, shipped, at_address) if c.key == "secrets-provider"
    ]
    verdict = check.probe()
    assert verdict.status == preflight.FAIL
    for text in (verdict.detail, check.fix):
        assert "an existing stack: `pulumi stack change-secrets-provider -s prod " in text
        for found in re.finditer(r"pulumi stack init", text):
            assert text[: found.start()].endswith("a stack not created yet: `"), text
