"""The bootstrap project plans clean, and what it creates is as locked down as its docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bootstrap import roles
from bootstrap.config import load_bootstrap_config
from components.identity import FORBIDDEN_PROJECT_ROLES
from grid.plan import Plan
from grid.stackfile import load_yaml, read_stack_file
from gridlib.config_errors import ConfigError
from tests.conftest import shipped_plan

BOOTSTRAP = Path(__file__).resolve().parents[2] / "bootstrap"
BUCKET = "gcp:storage/bucket:Bucket"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
SA_IAM = "gcp:serviceaccount/iAMMember:IAMMember"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return shipped_plan("example", project="bootstrap")


def of_type(plan: Plan, resource_type: str) -> list[dict[str, Any]]:
    return [r.to_json() for r in plan.run.resources if r.type == resource_type]


def example_values() -> dict[str, Any]:
    return read_stack_file(BOOTSTRAP, "example", "grid-bootstrap").values


def test_example_plans_without_violations(plan: Plan) -> None:
    assert plan.project == "grid-bootstrap"
    assert plan.settings.environment == "prod"
    assert plan.violations == []
    # Cloud KMS key versions are billed ($0.06 each) but policies/pricers.py has no KMS pricer yet.
    assert set(plan.cost["unpriced"]) <= {CRYPTO_KEY}


def test_state_bucket_is_versioned_uniform_private_and_protected(plan: Plan) -> None:
    (bucket,) = of_type(plan, BUCKET)
    inputs = bucket["inputs"]
    assert inputs["name"] == "acme-grid-pulumi-state"
    assert inputs["versioning"] == {"enabled": True}
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["forceDestroy"] is False
    assert bucket["protect"] is True
    (rule,) = inputs["lifecycleRules"]
    assert rule["action"]["type"] == "Delete"
    assert rule["condition"] == {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 90, "numNewerVersions": 100}


def test_secrets_key_rotates_and_is_protected(plan: Plan) -> None:
    (key,) = of_type(plan, CRYPTO_KEY)
    assert key["inputs"]["rotationPeriod"] == f"{90 * 86400}s"
    assert key["inputs"]["purpose"] == "ENCRYPT_DECRYPT"
    assert key["protect"] is True
    assert plan.run.outputs["secretsProvider"] == (
        "gcpkms://projects/acme-grid-ops/locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets"
    )
    assert plan.run.outputs["loginCommand"] == "pulumi login gs://acme-grid-pulumi-state"


def test_federation_trusts_only_the_repository(plan: Plan) -> None:
    (provider,) = of_type(plan, PROVIDER)
    inputs = provider["inputs"]
    assert inputs["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert inputs["attributeCondition"] == (
        "assertion.repository == 'acme/grid' && assertion.repository_owner_id == '81234567'"
    )
    assert plan.run.outputs["workloadIdentityProvider"].endswith(
        "/workloadIdentityPools/github/providers/github-actions"
    )


def test_deployers_are_reachable_only_from_their_environment_on_main(plan: Plan) -> None:
    members = {r["name"]: r["inputs"]["member"] for r in of_type(plan, SA_IAM)}
    assert set(members) == {"previewer-wif-0", "deployer-staging-wif-0", "deployer-prod-wif-0"}
    assert members["previewer-wif-0"].endswith("/attribute.repository/acme/grid")
    assert members["deployer-prod-wif-0"].endswith(
        "/attribute.deployment/repo:acme/grid:environment:production@refs/heads/main"
    )
    assert members["deployer-staging-wif-0"].endswith(
        "/attribute.deployment/repo:acme/grid:environment:staging@refs/heads/main"
    )
    assert all(r["inputs"]["role"] == "roles/iam.workloadIdentityUser" for r in of_type(plan, SA_IAM))
    # dev has no GitHub environment: CI previews it but never deploys it.
    assert set(plan.run.outputs["deployerServiceAccounts"]) == {"staging", "prod"}


def test_ci_roles_are_predefined_and_never_impersonation(plan: Plan) -> None:
    grants = [(r["name"], r["inputs"]["role"], r["inputs"]["project"]) for r in of_type(plan, PROJECT_IAM)]
    assert grants
    for name, role, _project in grants:
        assert role not in FORBIDDEN_PROJECT_ROLES, name
        # Predefined roles are service-scoped (roles/<service>.<role>); basic ones are bare (roles/editor).
        assert role == "roles/browser" or re.fullmatch(r"roles/[a-z]+\.[A-Za-z]+", role), name
    previewer = {role for name, role, _ in grants if name.startswith("previewer-")}
    assert previewer == set(roles.PREVIEWER_PROJECT_ROLES)
    assert all(role.endswith((".viewer", "Viewer", ".reader", "Reviewer", "/browser")) for role in previewer)
    # Each deployer holds admin roles in its own environment's project and nowhere else.
    deployer_projects = {name.split("-")[1]: project for name, _, project in grants if name.startswith("deployer-")}
    assert deployer_projects == {"staging": "acme-grid-staging", "prod": "acme-grid-prod"}


def test_state_and_key_grants_are_scoped_to_the_one_bucket_and_key(plan: Plan) -> None:
    bucket_grants = {r["name"]: r["inputs"] for r in of_type(plan, "gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert {g["bucket"] for g in bucket_grants.values()} == {"acme-grid-pulumi-state"}
    assert bucket_grants["previewer-state-storage-objectviewer"]["role"] == "roles/storage.objectViewer"
    locks = bucket_grants["previewer-state-locks"]
    assert locks["condition"]["expression"].endswith('/objects/.pulumi/locks/")')
    key_grants = {
        r["name"]: r["inputs"]["role"] for r in of_type(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    }
    assert key_grants == {
        "previewer-key-cloudkms-cryptokeydecrypter": "roles/cloudkms.cryptoKeyDecrypter",
        "deployer-staging-key-cloudkms-cryptokeyencrypterdecrypter": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "deployer-prod-key-cloudkms-cryptokeyencrypterdecrypter": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    }


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"grid-bootstrap:github": {"repository": "acme"}},
            "Pulumi.example.yaml: grid-bootstrap:github.repository: 'acme' is not a GitHub repository (owner/name)",
        ),
        (
            {"grid-bootstrap:stateBucket": {"name": "acme-grid-pulumi-state", "noncurentVersionDays": 3}},
            "Pulumi.example.yaml: grid-bootstrap:stateBucket.noncurentVersionDays: unknown key; "
            "did you mean 'noncurrentVersionDays'?",
        ),
        (
            {"grid-bootstrap:secretKey": {}},
            "Pulumi.example.yaml: grid-bootstrap:secretKey: unknown key; did you mean 'secretsKey'?",
        ),
        (
            {"grid-bootstrap:secretsKey": {"rotationDays": 0}},
            "Pulumi.example.yaml: grid-bootstrap:secretsKey.rotationDays: must be >= 1 (got 0)",
        ),
        (
            {"grid-bootstrap:environments": {"prod": {"project": "Acme_Prod"}}},
            "Pulumi.example.yaml: grid-bootstrap:environments.prod.project: 'Acme_Prod' is not a Google Cloud "
            "project ID (6-30 chars: lowercase letters, digits, -)",
        ),
        # A name the environment pattern allows but the deployer's account ID (grid-deployer-<name>) does not:
        # Google refused it at `pulumi up`, after the state bucket and the key were created.
        (
            {
                "grid-bootstrap:environments": {
                    "production-europe": {"project": "acme-grid-prod", "githubEnvironment": "production"}
                }
            },
            "Pulumi.example.yaml: grid-bootstrap:environments: 'production-europe': its deployer's service account "
            "ID 'grid-deployer-production-europe' is 31 chars, over the limit of 30: use a shorter environment name",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(override: dict[str, Any], expected: str) -> None:
    values = example_values() | override
    with pytest.raises(ConfigError) as raised:
        load_bootstrap_config(values, source="Pulumi.example.yaml")
    assert raised.value.lines[0].startswith(expected)


def test_stack_file_parses_as_yaml_with_only_known_namespaces() -> None:
    document = load_yaml((BOOTSTRAP / "Pulumi.example.yaml").read_text())
    assert {key.split(":")[0] for key in document["config"]} == {"gcp", "grid-bootstrap"}
    config = load_bootstrap_config(example_values(), source="Pulumi.example.yaml")
    assert config.projects == ["acme-grid-ops", "acme-grid-dev", "acme-grid-staging", "acme-grid-prod"]
    assert "sts.googleapis.com" in config.apis_for("acme-grid-ops")
    assert "sts.googleapis.com" not in config.apis_for("acme-grid-prod")
