"""Stack validation policies: public invokers, the monthly budget, and first-deploy ordering."""

from __future__ import annotations

import pytest

from policies import gcp
from policies.props import UNKNOWN_SENTINELS
from tests.policies.fixtures import SERVICE
from tests.policies.harness import run_stack_policy, stack_resource, tweak
from tests.policies.stack_fixtures import (
    BUDGET_STACK,
    BUDGET_URN,
    BUILD_ACCOUNT,
    FUNCTION_URN,
    PUBLIC_INVOKER,
    SERVICE_URN,
    STACK_CASES,
    StackCase,
    budgeted_stack,
    build_account_stack,
    invoker_stack,
    secret_grant_stack,
)

UNKNOWN = next(iter(UNKNOWN_SENTINELS))


@pytest.mark.parametrize("case", STACK_CASES, ids=lambda case: case.policy)
def test_stack_fixtures(case: StackCase) -> None:
    assert run_stack_policy(case.policy, case.bad, case.config)
    assert run_stack_policy(case.policy, case.good, case.config) == []


def test_public_invoker_is_matched_by_service_name_without_dependency() -> None:
    found = run_stack_policy("run-invoker-not-public", invoker_stack("INGRESS_TRAFFIC_ALL", linked=False))
    assert [urn for urn, _ in found] == [invoker_stack("INGRESS_TRAFFIC_ALL")[1]["urn"]]


def test_public_invoker_on_a_workload_outside_the_stack_is_reported() -> None:
    grant = invoker_stack("INGRESS_TRAFFIC_ALL")[1]
    assert run_stack_policy("run-invoker-not-public", [grant])


def test_invoker_iam_disabled_on_open_service_is_reported() -> None:
    service = stack_resource(
        "urn:s", gcp.RUN_SERVICE, tweak(SERVICE, {"ingress": "INGRESS_TRAFFIC_ALL", "invokerIamDisabled": True})
    )
    assert run_stack_policy("run-invoker-not-public", [service]) == [
        ("urn:s", "invokerIamDisabled=true on a service whose ingress is open to the internet")
    ]


def test_unknown_ingress_is_not_judged() -> None:
    assert run_stack_policy("run-invoker-not-public", invoker_stack(UNKNOWN)) == []


def test_private_invoker_grant_is_fine() -> None:
    service, grant = invoker_stack("INGRESS_TRAFFIC_ALL")
    grant = {**grant, "inputs": {**PUBLIC_INVOKER, "member": "serviceAccount:lb@p.iam.gserviceaccount.com"}}
    assert run_stack_policy("run-invoker-not-public", [service, grant]) == []


def test_budget_message_names_the_largest_resources() -> None:
    [(urn, message)] = run_stack_policy("cost-monthly-budget", BUDGET_STACK, {"maxMonthlyUsd": 100})
    assert urn is None
    assert "exceeds the $100.00 budget" in message and "db $" in message


def test_budget_reads_usage_from_config() -> None:
    service = stack_resource("urn:pulumi:dev::grid::gcp:cloudrunv2/service:Service::api", gcp.RUN_SERVICE, SERVICE)
    heavy = {"resources": {"api": {"requestsPerMonth": 500_000_000, "avgRequestSeconds": 1}}}
    assert run_stack_policy("cost-monthly-budget", [service], {"maxMonthlyUsd": 50}) == []
    assert run_stack_policy("cost-monthly-budget", [service], {"maxMonthlyUsd": 50, "usage": heavy})


def test_a_budget_sized_at_the_estimate_is_refused_with_the_amount_that_fits() -> None:
    [(urn, message)] = run_stack_policy("cost-budget-headroom", budgeted_stack("255", capped=True))
    assert urn == BUDGET_URN
    assert "estimated $251.57/month is 99% of the $255.00 budget" in message
    assert "cost cap stops the services" in message and "at least $279.52" in message and "db $204.85" in message
    [(_, uncapped)] = run_stack_policy("cost-budget-headroom", budgeted_stack("255"))
    assert "100% alert fires" in uncapped


def test_budget_headroom_is_a_parameter_and_needs_a_fixed_amount() -> None:
    assert run_stack_policy("cost-budget-headroom", budgeted_stack("255"), {"minHeadroom": 0}) == []
    assert run_stack_policy("cost-budget-headroom", budgeted_stack("300"), {"minHeadroom": 0.2})
    # A budget that follows last period's spend (no specified amount) has nothing to compare the plan with.
    last_period = budgeted_stack("1")
    last_period[-1] = {**last_period[-1], "inputs": {"amount": {"lastPeriodAmount": {}}}}
    assert run_stack_policy("cost-budget-headroom", last_period) == []


def test_stack_rules_survive_unknown_subtrees() -> None:
    stack = [{**resource, "inputs": {key: UNKNOWN for key in resource["inputs"]}} for resource in BUDGET_STACK]
    assert run_stack_policy("cost-monthly-budget", stack, {"maxMonthlyUsd": 0}) == []
    assert run_stack_policy("run-invoker-not-public", stack) == []
    unknown_budget = [{**r, "inputs": {k: UNKNOWN for k in r["inputs"]}} for r in budgeted_stack("1")]
    assert run_stack_policy("cost-budget-headroom", unknown_budget) == []


@pytest.mark.parametrize(("ingress", "violations"), [("ALLOW_INTERNAL_AND_GCLB", 0), ("ALLOW_ALL", 1)])
def test_public_run_invoker_on_a_gen2_function_follows_the_function_ingress(ingress: str, violations: int) -> None:
    """A gen2 function runs as a Cloud Run service of the same name; run.invoker on it targets the function."""
    function_urn = "urn:pulumi:prod::grid::gcp:cloudfunctionsv2/function:Function::fn"
    function = stack_resource(
        function_urn, gcp.FUNCTION, {"name": "grid-prod-fn", "serviceConfig": {"ingressSettings": ingress}}
    )
    grant = stack_resource(
        "urn:pulumi:prod::grid::gcp:cloudrunv2/serviceIamMember:ServiceIamMember::fn-public",
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        {**PUBLIC_INVOKER, "name": "grid-prod-fn"},
        (function_urn,),
    )
    assert len(run_stack_policy("run-invoker-not-public", [function, grant])) == violations


def test_secret_grant_rule_names_the_grant_the_workload_skips() -> None:
    [(urn, message)] = run_stack_policy("workload-waits-for-secret-grants", secret_grant_stack(waits=False))
    assert urn == SERVICE_URN
    assert "db-password" in message and "db-password-access-api" in message


def test_a_secret_of_the_stack_nobody_granted_is_reported() -> None:
    secret, _grant, service = secret_grant_stack(waits=False)
    [(urn, message)] = run_stack_policy("workload-waits-for-secret-grants", [secret, service])
    assert urn == SERVICE_URN and "nothing in this stack grants" in message


def test_a_secret_managed_elsewhere_is_not_judged() -> None:
    _secret, _grant, service = secret_grant_stack(waits=False)
    assert run_stack_policy("workload-waits-for-secret-grants", [service]) == []


def test_secret_grants_with_unknown_members_are_not_judged() -> None:
    secret, grant, service = secret_grant_stack(waits=False)
    grant = {**grant, "inputs": {**grant["inputs"], "member": UNKNOWN}}
    assert run_stack_policy("workload-waits-for-secret-grants", [secret, grant, service]) == []


def test_project_wide_accessor_grant_counts_when_the_workload_waits_for_it() -> None:
    secret, _grant, service = secret_grant_stack(waits=False)
    project_grant = stack_resource(
        "urn:pulumi:prod::grid::gcp:projects/iAMMember:IAMMember::api-secrets",
        "gcp:projects/iAMMember:IAMMember",
        {
            "project": "p",
            "role": "roles/secretmanager.secretAccessor",
            "member": "serviceAccount:grid-api@p.iam.gserviceaccount.com",
        },
    )
    waiting = {**service, "dependencies": [project_grant["urn"]]}
    assert run_stack_policy("workload-waits-for-secret-grants", [secret, project_grant, waiting]) == []
    assert run_stack_policy("workload-waits-for-secret-grants", [secret, project_grant, service])


@pytest.mark.parametrize(
    ("account", "waits", "expected"),
    [
        ("projects/p/serviceAccounts/123-compute@developer.gserviceaccount.com", True, "default service account"),
        (f"projects/p/serviceAccounts/{BUILD_ACCOUNT}", False, "fn-build-logs"),
    ],
)
def test_build_account_must_be_dedicated_and_waited_for(account: str, waits: bool, expected: str) -> None:
    [(urn, message)] = run_stack_policy("function-build-account", build_account_stack(account, waits))
    assert urn == FUNCTION_URN and expected in message


def test_unknown_build_account_is_not_judged() -> None:
    assert run_stack_policy("function-build-account", build_account_stack(UNKNOWN)) == []


def test_invoker_iam_disabled_behind_the_load_balancer_passes() -> None:
    service = stack_resource("urn:s", gcp.RUN_SERVICE, tweak(SERVICE, {"invokerIamDisabled": True}))
    assert run_stack_policy("run-invoker-not-public", [service]) == []


# -- what breaks once running (policies/operations.py), also on the real plans through grid's evaluator --------

OPERATIONS = (
    "db-connections-fit-limit",
    "run-background-work-has-cpu",
    "monitoring-no-uptime-on-cold-gpu",
    "run-startup-probe-covers-vpc-egress",
)


@pytest.mark.parametrize("case", [c for c in STACK_CASES if c.policy in OPERATIONS], ids=lambda c: c.policy)
def test_operations_rules_survive_unknown_subtrees(case: StackCase) -> None:
    for fixture in (case.bad, case.good):
        stack = [{**r, "inputs": {key: UNKNOWN for key in r["inputs"]}} for r in fixture]
        assert run_stack_policy(case.policy, stack, case.config) == []


def test_a_consumer_of_a_push_subscription_needs_no_always_on_cpu() -> None:
    from tests.policies.stack_fixtures import PUSH_SUBSCRIPTION, SUBSCRIBER, consumer_service

    assert (
        run_stack_policy("run-background-work-has-cpu", [PUSH_SUBSCRIPTION, SUBSCRIBER, consumer_service(True, 0)])
        == []
    )


def test_a_service_labelled_with_background_work_is_judged_without_a_subscription() -> None:
    from tests.policies.stack_fixtures import consumer_service

    service = consumer_service(True, 0)
    service = {**service, "inputs": {**service["inputs"], "labels": {"grid-background": "outbox-relay"}}}
    assert len(run_stack_policy("run-background-work-has-cpu", [service])) == 2


def test_a_startup_probe_with_cloud_runs_defaults_is_too_short_for_direct_vpc() -> None:
    from tests.policies.stack_fixtures import egress_service

    [(_, message)] = run_stack_policy(
        "run-startup-probe-covers-vpc-egress", egress_service(None, None), {"minStartupSeconds": 120}
    )
    assert "gives up after 30s" in message


def test_an_uptime_check_on_another_service_is_fine() -> None:
    from tests.policies.stack_fixtures import gpu_stack

    assert run_stack_policy("monitoring-no-uptime-on-cold-gpu", gpu_stack(0, checked="api")) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_plans_pass_the_operations_rules_in_grid_plan(synth, stack: str) -> None:
    from grid.policy_eval import evaluate

    resources = [r.to_json() for r in synth(stack).resources]
    assert [v for v in evaluate(resources, stack) if v["policy"] in OPERATIONS] == []
