"""Stack-level fixtures: sets of engine-shaped resources for the stack validation policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies import gcp
from tests.policies.fixtures import FUNCTION, REDIS, SERVICE, SQL
from tests.policies.harness import stack_resource, tweak

SERVICE_URN = "urn:pulumi:prod::grid::gcp:cloudrunv2/service:Service::api"
PUBLIC_INVOKER = {"name": "grid-api", "location": "us-central1", "role": "roles/run.invoker", "member": "allUsers"}


@dataclass(frozen=True)
class StackCase:
    policy: str
    bad: list[dict[str, Any]]
    good: list[dict[str, Any]]
    config: dict[str, Any]


def invoker_stack(ingress: str, linked: bool = True) -> list[dict[str, Any]]:
    service = stack_resource(SERVICE_URN, gcp.RUN_SERVICE, tweak(SERVICE, {"ingress": ingress}))
    grant = stack_resource("urn:pulumi:prod::grid::gcp:cloudrunv2/serviceIamMember:ServiceIamMember::api-public",
                           "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", PUBLIC_INVOKER,
                           (SERVICE_URN,) if linked else ())
    return [service, grant]


BUDGET_STACK = [
    stack_resource("urn:pulumi:dev::grid::gcp:sql/databaseInstance:DatabaseInstance::db",
                   gcp.SQL_INSTANCE, SQL),  # ~$205/month: db-custom-2-7680 REGIONAL
    stack_resource("urn:pulumi:dev::grid::gcp:redis/instance:Instance::cache", gcp.REDIS_INSTANCE, REDIS),
    {"urn": "urn:pulumi:dev::grid::grid:database:Database::db", "type": "grid:database:Database", "name": "db",
     "parent": None, "custom": False, "protect": False, "dependencies": [], "inputs": {}},
]

SECRET_URN = "urn:pulumi:prod::grid::gcp:secretmanager/secret:Secret::db-password"
SECRET_GRANT_URN = "urn:pulumi:prod::grid::gcp:secretmanager/secretIamMember:SecretIamMember::db-password-access-api"


def secret_grant_stack(waits: bool) -> list[dict[str, Any]]:
    """The api service reads secret db-password; its accessor grant exists; the service waits for it or not."""
    secret = stack_resource(SECRET_URN, "gcp:secretmanager/secret:Secret", {"secretId": "db-password"})
    grant = stack_resource(SECRET_GRANT_URN, "gcp:secretmanager/secretIamMember:SecretIamMember", {
        "secretId": "projects/p/secrets/db-password", "role": "roles/secretmanager.secretAccessor",
        "member": "serviceAccount:grid-api@p.iam.gserviceaccount.com"}, (SECRET_URN,))
    service = stack_resource(SERVICE_URN, gcp.RUN_SERVICE, SERVICE, (SECRET_GRANT_URN,) if waits else ())
    return [secret, grant, service]


FUNCTION_URN = "urn:pulumi:prod::grid::gcp:cloudfunctionsv2/function:Function::korean-nlp"
BUILD_ACCOUNT = "grid-fn-build@p.iam.gserviceaccount.com"
BUILD_GRANT_URN = "urn:pulumi:prod::grid::gcp:projects/iAMMember:IAMMember::fn-build-logs"


def build_account_stack(account: str | None, waits: bool = True) -> list[dict[str, Any]]:
    """A function (no secrets) building as ``account`` (None: unset), which holds one project-level grant."""
    build = {"buildConfig": {"runtime": "python312", **({"serviceAccount": account} if account else {})}}
    grant = stack_resource(BUILD_GRANT_URN, "gcp:projects/iAMMember:IAMMember", {
        "project": "p", "role": "roles/logging.logWriter", "member": f"serviceAccount:{BUILD_ACCOUNT}"})
    function = stack_resource(FUNCTION_URN, gcp.FUNCTION,
                              tweak({**FUNCTION, **build}, {"serviceConfig.secretEnvironmentVariables": []}),
                              (BUILD_GRANT_URN,) if waits else ())
    return [grant, function]


STACK_CASES: list[StackCase] = [
    StackCase("run-invoker-not-public", invoker_stack("INGRESS_TRAFFIC_ALL"),
              invoker_stack("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"), {}),
    StackCase("cost-monthly-budget", BUDGET_STACK, BUDGET_STACK[2:], {"maxMonthlyUsd": 100}),
    StackCase("workload-waits-for-secret-grants", secret_grant_stack(waits=False), secret_grant_stack(waits=True), {}),
    StackCase("function-build-account", build_account_stack(None),
              build_account_stack(f"projects/p/serviceAccounts/{BUILD_ACCOUNT}"), {}),
]
