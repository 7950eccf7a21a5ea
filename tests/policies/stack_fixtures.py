"""Stack-level fixtures: sets of engine-shaped resources for the stack validation policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies import gcp
from tests.policies.fixtures import REDIS, SERVICE, SQL
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

STACK_CASES: list[StackCase] = [
    StackCase("run-invoker-not-public", invoker_stack("INGRESS_TRAFFIC_ALL"),
              invoker_stack("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"), {}),
    StackCase("cost-monthly-budget", BUDGET_STACK, BUDGET_STACK[2:], {"maxMonthlyUsd": 100}),
]

from tests.policies.scanner_parity_fixtures import parity_stack_cases  # noqa: E402

STACK_CASES += parity_stack_cases(StackCase)
