"""Identity, registry, provider labels and the component conventions of DESIGN §4."""

from __future__ import annotations

import pytest

from components.identity import FORBIDDEN_PROJECT_ROLES, WorkloadIdentities, WorkloadIdentitiesArgs
from stacks.config import WORKLOADS
from tests.components.offline_program import outside_any_program


def test_one_service_account_per_workload(synth) -> None:
    plan = synth("prod")
    accounts = plan.of_type("gcp:serviceaccount/account:Account")
    # The bundled workloads and the platform's identities, plus the stack file's own (the scraper job).
    expected = {*WORKLOADS, "scraper"}
    assert sorted(a.inputs["accountId"] for a in accounts) == sorted(f"grid-prod-{w}" for w in expected)
    assert set(plan.outputs["serviceAccounts"]) == expected
    for member in plan.of_type("gcp:projects/iAMMember:IAMMember"):
        assert member.inputs["role"] not in FORBIDDEN_PROJECT_ROLES


def test_forbidden_project_roles_are_refused() -> None:
    """Refused by the args, before anything registers: outside any program (no event loop there), so whatever
    ran before in this process (tests/components/test_refusals.py proves nothing is registered)."""
    args = {"project": "p", "accounts": {"api": "x-api"}, "project_roles": {"api": ["roles/editor"]}}
    with pytest.raises(ValueError, match="roles/editor may not be granted at project level"):
        outside_any_program(lambda: WorkloadIdentities("x", WorkloadIdentitiesArgs(**args)))


def test_registry_cleanup_policies(synth) -> None:
    repo = synth("dev").one("gcp:artifactregistry/repository:Repository", "-registry-repo")
    assert repo.inputs["format"] == "DOCKER" and repo.inputs["repositoryId"] == "grid-dev"
    assert repo.inputs["dockerConfig"] == {"immutableTags": True}
    policies = {p["id"]: p for p in repo.inputs["cleanupPolicies"]}
    assert policies["delete-untagged"]["condition"] == {"tagState": "UNTAGGED", "olderThan": f"{7 * 86400}s"}
    assert policies["keep-recent"]["mostRecentVersions"] == {"keepCount": 5}
    assert repo.inputs["cleanupPolicyDryRun"] is False


def test_stack_wide_labels_on_the_provider(synth) -> None:
    provider = synth("dev").one("pulumi:providers:gcp", "gcp")  # the default one (budgets have their own)
    labels = provider.inputs["defaultLabels"]
    labels = labels if isinstance(labels, dict) else __import__("json").loads(labels)
    assert labels["environment"] == "dev" and labels["app"] == "grid" and labels["team"] == "platform"


def test_config_secrets_become_secret_manager_secrets_for_their_readers_only(synth) -> None:
    plan = synth("prod")
    assert set(plan.outputs["configSecretIds"]) == {"completionApiKey"}  # channel credentials stay in their channel
    grants = [
        g for g in plan.of_type("gcp:secretmanager/secretIamMember:SecretIamMember") if "completion-api-key" in g.name
    ]
    assert [g.inputs["member"] for g in grants] == [
        "serviceAccount:grid-prod-ai@acme-grid-prod.iam.gserviceaccount.com"
    ]


def test_every_child_is_parented_and_named_after_its_component(synth) -> None:
    plan = synth("prod")
    stack = plan.one("pulumi:pulumi:Stack")
    for resource in plan.resources:
        if resource.type.startswith("pulumi:"):
            continue
        assert resource.parent is not None
        parent = plan.by_urn(resource.parent)
        if resource.type.startswith("grid:") and parent.urn == stack.urn:
            assert resource.name.startswith("grid-prod-")
            continue
        assert parent.type.startswith("grid:"), f"{resource.name} is not inside a component"
        assert resource.name.startswith(parent.name + "-"), f"{resource.name} not derived from {parent.name}"
    for component in [r for r in plan.resources if r.type.startswith("grid:")]:
        module, name = component.type.split(":")[1:]
        assert module and name[0].isupper()


def test_the_deployer_acts_as_each_workload_account_not_project_wide(synth) -> None:
    plan = synth("prod")
    grants = [g for g in plan.of_type("gcp:serviceaccount/iAMMember:IAMMember") if "-deployer0-acts-as-" in g.name]
    assert len(grants) == len(plan.outputs["serviceAccounts"])
    assert {g.inputs["member"] for g in grants} == {
        "serviceAccount:grid-deployer-prod@acme-grid-ops.iam.gserviceaccount.com"
    }
    assert {g.inputs["role"] for g in grants} == {"roles/iam.serviceAccountUser"}
    project_roles = {m.inputs["role"] for m in plan.of_type("gcp:projects/iAMMember:IAMMember")}
    assert "roles/iam.serviceAccountUser" not in project_roles
