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
    grant = stack_resource(
        "urn:pulumi:prod::grid::gcp:cloudrunv2/serviceIamMember:ServiceIamMember::api-public",
        "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
        PUBLIC_INVOKER,
        (SERVICE_URN,) if linked else (),
    )
    return [service, grant]


BUDGET_STACK = [
    stack_resource(
        "urn:pulumi:dev::grid::gcp:sql/databaseInstance:DatabaseInstance::db", gcp.SQL_INSTANCE, SQL
    ),  # ~$205/month: db-custom-2-7680 REGIONAL
    stack_resource("urn:pulumi:dev::grid::gcp:redis/instance:Instance::cache", gcp.REDIS_INSTANCE, REDIS),
    {
        "urn": "urn:pulumi:dev::grid::grid:database:Database::db",
        "type": "grid:database:Database",
        "name": "db",
        "parent": None,
        "custom": False,
        "protect": False,
        "dependencies": [],
        "inputs": {},
    },
]

BUDGET_URN = "urn:pulumi:dev::grid::gcp:billing/budget:Budget::budget"


def budgeted_stack(amount: str, *, capped: bool = False) -> list[dict[str, Any]]:
    """BUDGET_STACK ($251.57 a month) with a billing budget of `amount` dollars, wired to a cost cap or not."""
    rules = {"pubsubTopic": "projects/p/topics/cost-cap"} if capped else {}
    budget = stack_resource(
        BUDGET_URN,
        gcp.BUDGET,
        {"amount": {"specifiedAmount": {"currencyCode": "USD", "units": amount, "nanos": 0}}, "allUpdatesRule": rules},
    )
    return [*BUDGET_STACK, budget]


SECRET_URN = "urn:pulumi:prod::grid::gcp:secretmanager/secret:Secret::db-password"
SECRET_GRANT_URN = "urn:pulumi:prod::grid::gcp:secretmanager/secretIamMember:SecretIamMember::db-password-access-api"


def secret_grant_stack(waits: bool) -> list[dict[str, Any]]:
    """The api service reads secret db-password; its accessor grant exists; the service waits for it or not."""
    secret = stack_resource(SECRET_URN, "gcp:secretmanager/secret:Secret", {"secretId": "db-password"})
    grant = stack_resource(
        SECRET_GRANT_URN,
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        {
            "secretId": "projects/p/secrets/db-password",
            "role": "roles/secretmanager.secretAccessor",
            "member": "serviceAccount:grid-api@p.iam.gserviceaccount.com",
        },
        (SECRET_URN,),
    )
    service = stack_resource(SERVICE_URN, gcp.RUN_SERVICE, SERVICE, (SECRET_GRANT_URN,) if waits else ())
    return [secret, grant, service]


FUNCTION_URN = "urn:pulumi:prod::grid::gcp:cloudfunctionsv2/function:Function::korean-nlp"
BUILD_ACCOUNT = "grid-fn-build@p.iam.gserviceaccount.com"
BUILD_GRANT_URN = "urn:pulumi:prod::grid::gcp:projects/iAMMember:IAMMember::fn-build-logs"


def build_account_stack(account: str | None, waits: bool = True) -> list[dict[str, Any]]:
    """A function (no secrets) building as ``account`` (None: unset), which holds one project-level grant."""
    build = {"buildConfig": {"runtime": "python312", **({"serviceAccount": account} if account else {})}}
    grant = stack_resource(
        BUILD_GRANT_URN,
        "gcp:projects/iAMMember:IAMMember",
        {"project": "p", "role": "roles/logging.logWriter", "member": f"serviceAccount:{BUILD_ACCOUNT}"},
    )
    function = stack_resource(
        FUNCTION_URN,
        gcp.FUNCTION,
        tweak({**FUNCTION, **build}, {"serviceConfig.secretEnvironmentVariables": []}),
        (BUILD_GRANT_URN,) if waits else (),
    )
    return [grant, function]


# -- what breaks once running (policies/operations.py) ---------------------------------------------------------

SQL_URN = "urn:pulumi:prod::grid::gcp:sql/databaseInstance:DatabaseInstance::db"
DB_SECRET = {"valueSource": {"secretKeyRef": {"secret": "db-url", "version": "latest"}}}


def db_service(name: str, pool: int | None, max_instances: int) -> dict[str, Any]:
    """A Cloud Run service that connects to the database with ``pool`` connections per instance."""
    envs = [{"name": "DATABASE_URL", **DB_SECRET}]
    if pool is not None:
        envs.append({"name": "DB_POOL_MAX_SIZE", "value": str(pool)})
    props = tweak(
        SERVICE,
        {
            "name": name,
            "labels": {"grid-service": name},
            "template.scaling.maxInstanceCount": max_instances,
            "template.containers": [{"image": "i@sha256:" + "a" * 64, "envs": envs}],
        },
    )
    return stack_resource(f"urn:pulumi:prod::grid::gcp:cloudrunv2/service:Service::{name}", gcp.RUN_SERVICE, props)


def connections_stack(api_pool: int | None) -> list[dict[str, Any]]:
    """db-f1-micro (25 connections by default) with api x3 and auth x2; api_pool None means the app's 10."""
    sql = stack_resource(
        SQL_URN, gcp.SQL_INSTANCE, tweak(SQL, {"settings.tier": "db-f1-micro", "settings.databaseFlags": []})
    )
    return [sql, db_service("api", api_pool, 3), db_service("auth", 2, 2)]


SUBSCRIPTION = stack_resource(
    "urn:pulumi:prod::grid::gcp:pubsub/subscription:Subscription::indexer",
    gcp.PUBSUB_SUBSCRIPTION,
    {"name": "grid-events-ai-indexer", "topic": "t"},
)
PUSH_SUBSCRIPTION = stack_resource(
    "urn:pulumi:prod::grid::gcp:pubsub/subscription:Subscription::indexer",
    gcp.PUBSUB_SUBSCRIPTION,
    {
        "name": "grid-events-ai-indexer",
        "topic": "t",
        "pushConfig": {"pushEndpoint": "https://ai.run.app/ai/events/pubsub"},
    },
)
SUBSCRIBER = stack_resource(
    "urn:pulumi:prod::grid::gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember::ai-subscriber",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
    {
        "subscription": "grid-events-ai-indexer",
        "role": "roles/pubsub.subscriber",
        "member": "serviceAccount:grid-ai@p.iam.gserviceaccount.com",
    },
)


def consumer_service(cpu_idle: bool, min_instances: int) -> dict[str, Any]:
    props = tweak(
        SERVICE,
        {
            "name": "grid-ai",
            "labels": {"grid-service": "ai"},
            "template.serviceAccount": "grid-ai@p.iam.gserviceaccount.com",
            "template.scaling.minInstanceCount": min_instances,
            "template.containers": [{"image": "i@sha256:" + "a" * 64, "resources": {"cpuIdle": cpu_idle}}],
        },
    )
    return stack_resource("urn:pulumi:prod::grid::gcp:cloudrunv2/service:Service::ai", gcp.RUN_SERVICE, props)


def gpu_stack(min_instances: int, checked: str = "ai") -> list[dict[str, Any]]:
    service = tweak(
        SERVICE,
        {
            "name": "grid-ai",
            "labels": {"grid-service": "ai"},
            "template.nodeSelector": {"accelerator": "nvidia-l4"},
            "template.scaling.minInstanceCount": min_instances,
        },
    )
    check = {
        "displayName": "ai",
        "period": "60s",
        "timeout": "10s",
        "userLabels": {"grid-service": checked},
        "monitoredResource": {"type": "uptime_url", "labels": {"project_id": "p", "host": "api.acme.io"}},
        "httpCheck": {"path": "/ai/health", "port": 443, "useSsl": True},
    }
    return [
        stack_resource("urn:pulumi:prod::grid::gcp:cloudrunv2/service:Service::ai", gcp.RUN_SERVICE, service),
        stack_resource(
            "urn:pulumi:prod::grid::gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig::ai-up",
            "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig",
            check,
        ),
    ]


def egress_service(period: int | None, failures: int | None) -> list[dict[str, Any]]:
    probe = {"httpGet": {"path": "/health", "port": 8080}}
    probe |= {k: v for k, v in (("periodSeconds", period), ("failureThreshold", failures)) if v is not None}
    props = tweak(
        SERVICE,
        {
            "template.vpcAccess": {
                "egress": "PRIVATE_RANGES_ONLY",
                "networkInterfaces": [{"network": "grid", "subnetwork": "grid-subnet"}],
            },
            "template.containers": [{"image": "i@sha256:" + "a" * 64, "startupProbe": probe}],
        },
    )
    return [stack_resource(SERVICE_URN, gcp.RUN_SERVICE, props)]


STACK_CASES: list[StackCase] = [
    StackCase(
        "run-invoker-not-public",
        invoker_stack("INGRESS_TRAFFIC_ALL"),
        invoker_stack("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"),
        {},
    ),
    StackCase("cost-monthly-budget", BUDGET_STACK, BUDGET_STACK[2:], {"maxMonthlyUsd": 100}),
    # $251.57 is 96% of $262 (less than the 10% headroom) and 90% of $280.
    StackCase("cost-budget-headroom", budgeted_stack("262"), budgeted_stack("280"), {}),
    StackCase("workload-waits-for-secret-grants", secret_grant_stack(waits=False), secret_grant_stack(waits=True), {}),
    StackCase(
        "function-build-account",
        build_account_stack(None),
        build_account_stack(f"projects/p/serviceAccounts/{BUILD_ACCOUNT}"),
        {},
    ),
    # 25 - 5 reserved = 20: api 10x3 + auth 2x2 does not fit; api 4x3 + auth 2x2 = 16 does.
    StackCase("db-connections-fit-limit", connections_stack(None), connections_stack(4), {}),
    StackCase(
        "run-background-work-has-cpu",
        [SUBSCRIPTION, SUBSCRIBER, consumer_service(True, 0)],
        [SUBSCRIPTION, SUBSCRIBER, consumer_service(False, 1)],
        {},
    ),
    StackCase("monitoring-no-uptime-on-cold-gpu", gpu_stack(0), gpu_stack(1), {}),
    StackCase(
        "run-startup-probe-covers-vpc-egress", egress_service(2, 30), egress_service(5, 48), {"minStartupSeconds": 120}
    ),
]

from tests.policies.scanner_parity_fixtures import parity_stack_cases  # noqa: E402

STACK_CASES += parity_stack_cases(StackCase)
