"""What Google Cloud refuses on the first ``pulumi up`` into a fresh project, checked on the shipped plans."""

from __future__ import annotations

import pytest

from grid.policy_eval import evaluate
from tests.conftest import Synth, shipped_plan, stack_values

RUN = "gcp:cloudrunv2/service:Service"
JOB = "gcp:cloudrunv2/job:Job"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
FIRST_DEPLOY_POLICIES = ("workload-waits-for-secret-grants", "function-build-account")


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request) -> Synth:
    return Synth(shipped_plan(request.param).run)


def _workloads(plan: Synth) -> list:
    return plan.of_type(RUN) + plan.of_type(JOB) + plan.of_type(FUNCTION)


def _identity(workload) -> str:
    if workload.type == FUNCTION:
        return workload.inputs["serviceConfig"]["serviceAccountEmail"]
    template = workload.inputs["template"]
    return (template["template"] if workload.type == JOB else template)["serviceAccount"]


def _secrets_read(workload) -> set[str]:
    if workload.type == FUNCTION:
        return {v["secret"] for v in workload.inputs["serviceConfig"].get("secretEnvironmentVariables", [])}
    template = workload.inputs["template"]
    [container] = (template["template"] if workload.type == JOB else template)["containers"]
    return {e["valueSource"]["secretKeyRef"]["secret"] for e in container.get("envs", []) if "valueSource" in e}


def test_every_workload_waits_for_its_own_secret_grants(plan: Synth) -> None:
    """ml-analytics waited for the secret version only: Cloud Run refuses a revision that cannot read it."""
    grants = plan.of_type(SECRET_IAM)
    checked = 0
    for workload in _workloads(plan):
        member = f"serviceAccount:{_identity(workload)}"
        for secret in _secrets_read(workload):
            [own] = [g for g in grants if g.inputs["secretId"].endswith(f"/{secret}") and g.inputs["member"] == member]
            assert own.urn in workload.dependencies, f"{workload.name} does not wait for {own.name}"
            checked += 1
        # Only its own grants: another workload's grant is no reason to wait.
        others = {g.urn for g in grants if g.inputs["member"] != member}
        assert not others & set(workload.dependencies), workload.name
    assert checked >= 7
    analytics = next(f for f in plan.of_type(FUNCTION) if f.inputs["name"].endswith("-ml-analytics"))
    assert any(d.endswith("-db-url-secret-access-ml-analytics") for d in analytics.dependencies)


def test_functions_build_as_a_dedicated_account_with_what_a_build_needs(plan: Synth) -> None:
    """Builds ran as the default compute account, which has no roles in projects created since mid-2024."""
    account = plan.one("gcp:serviceaccount/account:Account", "-identity-fn-build")
    member = f"serviceAccount:{plan.outputs['serviceAccounts']['fn-build']}"
    repository = plan.one("gcp:artifactregistry/repository:Repository", "-fn-build-images-repo")
    grants = {
        "project": plan.one("gcp:projects/iAMMember:IAMMember", "-fn-build-logs"),
        "repository": plan.one("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "-fn-build-push"),
        "bucket": plan.one("gcp:storage/bucketIAMMember:BucketIAMMember", "-fn-build-source"),
    }
    assert {k: (g.inputs["role"], g.inputs["member"]) for k, g in grants.items()} == {
        "project": ("roles/logging.logWriter", member),
        "repository": ("roles/artifactregistry.writer", member),
        "bucket": ("roles/storage.objectViewer", member),
    }
    assert grants["repository"].inputs["repository"] == repository.inputs["repositoryId"]
    assert grants["bucket"].inputs["bucket"] == plan.one("gcp:storage/bucket:Bucket", "-fn-src-bucket").inputs["name"]
    functions = plan.of_type(FUNCTION)
    assert functions
    for function in functions:
        build = function.inputs["buildConfig"]
        assert build["serviceAccount"] == account.outputs["name"]
        assert build["dockerRepository"].endswith(f"/repositories/{repository.inputs['repositoryId']}")
        assert {g.urn for g in grants.values()} <= set(function.dependencies), function.name
    deployers_act_as = [
        r
        for r in plan.of_type("gcp:serviceaccount/iAMMember:IAMMember")
        if r.name.endswith("-acts-as-fn-build") and r.inputs["role"] == "roles/iam.serviceAccountUser"
    ]
    deployers = stack_values(plan.run.stack).get("grid:deployers", [])
    assert sorted(r.inputs["member"] for r in deployers_act_as) == sorted(deployers)
    assert all(r.inputs["serviceAccountId"] == account.outputs["name"] for r in deployers_act_as)


def test_first_deploy_policies_pass_on_the_shipped_plans(plan: Synth) -> None:
    environment = plan.outputs["environment"]
    resources = [r.to_json() for r in plan.resources]
    violations = [v for v in evaluate(resources, environment) if v["policy"] in FIRST_DEPLOY_POLICIES]
    assert violations == []


def test_service_agents_exist_before_anything_grants_or_needs_them(plan: Synth) -> None:
    """The first Eventarc trigger (and a grant to the Pub/Sub agent) fails until the agent exists."""
    agents = {a.inputs["service"]: a for a in plan.of_type("gcp:projects/serviceIdentity:ServiceIdentity")}
    assert set(agents) == {"pubsub.googleapis.com", "eventarc.googleapis.com"}
    [eventarc_role] = [
        g for g in plan.of_type("gcp:projects/iAMMember:IAMMember") if g.inputs["role"] == "roles/eventarc.serviceAgent"
    ]
    assert eventarc_role.inputs["member"] == agents["eventarc.googleapis.com"].outputs["member"]
    pubsub_agent = agents["pubsub.googleapis.com"]
    agent_grants = [r for r in plan.resources if r.inputs.get("member") == pubsub_agent.outputs["member"]]
    assert len(agent_grants) >= 2  # dead-letter publisher, subscriber on each source subscription
    assert all(pubsub_agent.urn in g.dependencies for g in agent_grants)
    # A function with an Eventarc trigger (dev's cost cap) is created after the agents and the Eventarc role.
    triggered = [f for f in plan.of_type(FUNCTION) if "eventTrigger" in f.inputs]
    assert len(triggered) == (1 if plan.run.stack == "dev" else 0)
    for function in triggered:
        assert {a.urn for a in agents.values()} | {eventarc_role.urn} <= set(function.dependencies), function.name
