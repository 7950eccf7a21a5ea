"""Google Cloud facts shared by several rules: type tokens, IAM members, workload shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from policies.props import UNKNOWN, get, is_known, known_items

SQL_INSTANCE: Final = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS_INSTANCE: Final = "gcp:redis/instance:Instance"
RUN_SERVICE: Final = "gcp:cloudrunv2/service:Service"
RUN_JOB: Final = "gcp:cloudrunv2/job:Job"
FUNCTION: Final = "gcp:cloudfunctionsv2/function:Function"
BUCKET: Final = "gcp:storage/bucket:Bucket"
NETWORK: Final = "gcp:compute/network:Network"
SUBNETWORK: Final = "gcp:compute/subnetwork:Subnetwork"
FIREWALL: Final = "gcp:compute/firewall:Firewall"
SSL_POLICY: Final = "gcp:compute/sSLPolicy:SSLPolicy"
BACKEND_SERVICE: Final = "gcp:compute/backendService:BackendService"
TARGET_HTTPS_PROXY: Final = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
VPC_CONNECTOR: Final = "gcp:vpcaccess/connector:Connector"
SERVICE_ACCOUNT_KEY: Final = "gcp:serviceaccount/key:Key"
PUBSUB_SUBSCRIPTION: Final = "gcp:pubsub/subscription:Subscription"
SCHEDULER_JOB: Final = "gcp:cloudscheduler/job:Job"
CLOUD_ARMOR_TIER: Final = "gcp:compute/projectCloudArmorTier:ProjectCloudArmorTier"
BUDGET: Final = "gcp:billing/budget:Budget"

# IAM resources come in three shapes: one member, a list of members, or a whole policy document.
PROJECT_IAM: Final = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
PROJECT_IAM_POLICY: Final = "gcp:projects/iAMPolicy:IAMPolicy"
BUCKET_IAM: Final = (
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
)
SECRET_IAM: Final = (
    "gcp:secretmanager/secretIamMember:SecretIamMember",
    "gcp:secretmanager/secretIamBinding:SecretIamBinding",
    "gcp:secretmanager/secretIamPolicy:SecretIamPolicy",
    "gcp:secretmanager/regionalSecretIamMember:RegionalSecretIamMember",
    "gcp:secretmanager/regionalSecretIamBinding:RegionalSecretIamBinding",
    "gcp:secretmanager/regionalSecretIamPolicy:RegionalSecretIamPolicy",
)
PUBSUB_IAM: Final = (
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:pubsub/topicIAMBinding:TopicIAMBinding",
    "gcp:pubsub/topicIAMPolicy:TopicIAMPolicy",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
    "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding",
    "gcp:pubsub/subscriptionIAMPolicy:SubscriptionIAMPolicy",
)
REGISTRY_IAM: Final = (
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
    "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
)
RUN_SERVICE_IAM: Final = (
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
    "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
    "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
)
FUNCTION_IAM: Final = (
    "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember",
    "gcp:cloudfunctionsv2/functionIamBinding:FunctionIamBinding",
    "gcp:cloudfunctionsv2/functionIamPolicy:FunctionIamPolicy",
)
RUN_JOB_IAM: Final = (
    "gcp:cloudrunv2/jobIamMember:JobIamMember",
    "gcp:cloudrunv2/jobIamBinding:JobIamBinding",
    "gcp:cloudrunv2/jobIamPolicy:JobIamPolicy",
)

PUBLIC_MEMBERS: Final = frozenset({"allUsers", "allAuthenticatedUsers"})

# Cloud SQL for PostgreSQL's default max_connections by the tier's memory (GB, at least -> connections):
# https://cloud.google.com/sql/docs/postgres/quotas#maximum_concurrent_connections
_DEFAULT_MAX_CONNECTIONS: Final = (
    (120, 1000),
    (60, 800),
    (30, 600),
    (15, 500),
    (7.5, 400),
    (6, 200),
    (3.75, 100),
    (1.7, 50),
    (0, 25),
)
# Connections no app pool may use: Postgres' superuser_reserved_connections (3; Cloud SQL's own maintenance
# connects as a superuser) and two for an operator's psql or a non-serverless export.
# https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-SUPERUSER-RESERVED-CONNECTIONS
RESERVED_CONNECTIONS: Final = 3 + 2
# What a workload pools when DB_POOL_MAX_SIZE is not set (app/common/settings.py), and Cloud Run's default
# maximum instances when maxInstanceCount is not set (https://cloud.google.com/run/docs/configuring/max-instances).
APP_DEFAULT_POOL: Final = 10
RUN_DEFAULT_MAX_INSTANCES: Final = 100


def default_max_connections(memory_gb: float) -> int:
    """Cloud SQL's default max_connections for a tier with this much memory."""
    return next(limit for floor, limit in _DEFAULT_MAX_CONNECTIONS if memory_gb >= floor - 1e-9)


# Label the stack puts on Cloud Run services (`grid-service: auth|api|ai`) and on components.
SERVICE_LABEL: Final = "grid-service"
# The Cloud Run services Grid bundles (gridlib/workloads.py: its services), for a service planned without the label.
# The pack is published alone and cannot import the registry: tests/test_structure.py keeps this copy equal to it.
BUNDLED_SERVICES: Final = frozenset({"auth", "api", "ai"})
# Label on the Secret Manager secret holding the URL of a Postgres/Redis outside Google Cloud
# (`grid-external: postgres|redis`): the price report says the provider bills it, the pack knows the case.
EXTERNAL_LABEL: Final = "grid-external"


def grants(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The known (role, member) pairs an IAM member, binding or policy resource grants."""
    if "policyData" in props:
        return _policy_document_grants(props["policyData"])
    role = get(props, "role")
    if not is_known(role) or role is None:
        return []
    members = [get(props, "member")] if "member" in props else known_items(props, "members")
    return [(role, member) for member in members if isinstance(member, str)]


def _policy_document_grants(document: Any) -> list[tuple[str, str]]:
    if not isinstance(document, str):
        return []
    try:
        bindings = json.loads(document).get("bindings", [])
    except (ValueError, AttributeError):
        return []
    return [
        (binding.get("role", ""), member)
        for binding in bindings
        if isinstance(binding, dict)
        for member in binding.get("members", [])
        if isinstance(member, str)
    ]


def public_grants(props: Mapping[str, Any], roles: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """Grants to allUsers/allAuthenticatedUsers, optionally only for the given roles."""
    return [
        (role, member)
        for role, member in grants(props)
        if member in PUBLIC_MEMBERS and (roles is None or role in roles)
    ]


_DEFAULT_SERVICE_ACCOUNT = re.compile(r"(-compute@developer|@appspot)\.gserviceaccount\.com$")


def default_service_account_problem(email: Any) -> str | None:
    """Why a workload's service account is not a dedicated one, or None if it is (or unknown)."""
    if email is UNKNOWN:
        return None
    if not email:
        return "no service account is set, so the workload runs as the Compute Engine default service account"
    if isinstance(email, str) and _DEFAULT_SERVICE_ACCOUNT.search(email):
        return f"it runs as the default service account {email}"
    return None


def workload_template(resource_type: str, props: Mapping[str, Any]) -> Any:
    """The revision/task template that holds containers, scaling and identity."""
    return get(props, "template.template") if resource_type == RUN_JOB else get(props, "template")


def service_role(name: str, props: Mapping[str, Any]) -> str | None:
    """Which Grid service a Cloud Run service is.

    The `grid-service` label is authoritative. Without it, the service name (or the Pulumi name)
    is split on `-` and a segment equal to a bundled service (BUNDLED_SERVICES) counts, so `grid-api-prod`
    is `api` but `rapid-service` is not.
    """
    label = get(props, f"labels.{SERVICE_LABEL}")
    if isinstance(label, str):
        return label
    service_name = get(props, "name")
    for candidate in (service_name if isinstance(service_name, str) else None, name):
        if candidate:
            for segment in candidate.split("-"):
                if segment in BUNDLED_SERVICES:
                    return segment
    return None
