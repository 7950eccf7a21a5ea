"""Monthly list-price estimates for Grid's Google Cloud resources.

`estimate_monthly_usd(type, props, usage)` prices one resource: USD per month at list price,
us-central1 unless the resource's region/location says otherwise, 0.0 for free resources and
None for types the catalog cannot price. `estimate()` returns the same figure with the basis it
was computed from. `price_resources()` prices a whole plan and applies the account-level free
tiers (Cloud Run's free vCPU-seconds, the first 3 Scheduler jobs, ...) once, to the first
resources that use them; a single resource is always priced before free tiers.

Usage assumptions
-----------------
Usage-priced resources read a flat mapping of the keys in USAGE_KEYS. A stack supplies them as
`grid:usage` (like an Infracost usage file), most specific last:

    grid:usage:
      default:   {gbProcessedPerMonth: 20}                                   # every resource
      types:     {"gcp:cloudrunv2/service:Service": {avgRequestSeconds: 0.1}}  # by type token
      resources: {api: {requestsPerMonth: 5000000}}                           # by name (see usage_for)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from policies import price_catalog as catalog
from policies import pricers
from policies.gcp import SERVICE_LABEL
from policies.pricers import Estimate, Pricer
from policies.props import get, plain

# Every usage key, what reads it, and its default when the stack does not say.
USAGE_KEYS: Final[Mapping[str, tuple[str, float | bool | str]]] = {
    "requestsPerMonth": (
        "Cloud Run services and functions (invocations), API Gateway calls, Cloud Armor requests, CDN lookups",
        1_000_000,
    ),
    "avgRequestSeconds": ("Cloud Run services and functions: mean request duration", 0.2),
    "avgConcurrency": ("Cloud Run services and functions: mean concurrent requests per busy instance", 1),
    "executionsPerMonth": ("Cloud Run jobs", 30),
    "taskSeconds": ("Cloud Run jobs: duration of one task", 300),
    "backupGb": ("Cloud SQL: backup storage", "50% of settings.diskSize"),
    "avgInstances": ("VPC connector: mean running instances", "minInstances (2)"),
    "vmCount": ("Cloud NAT: VMs/serverless instances using the gateway", 2),
    "gbProcessedPerMonth": ("Cloud NAT and forwarding rules: data processed", 10),
    "egressGbPerMonth": ("CDN-enabled backends: cache egress", 10),
    "cacheFillGbPerMonth": ("CDN-enabled backends: cache fill", 1),
    "attached": ("external static IPs: in use by a forwarding rule (free) or not", True),
    "accessOpsPerMonth": ("Secret Manager secrets: access operations", 10_000),
    "storageGb": ("Artifact Registry repositories (2) and Cloud Storage buckets (1): stored GB", 2),
    "throughputGbPerMonth": ("Pub/Sub topics: publish + delivery throughput", 1),
    "retainedGb": ("Pub/Sub subscriptions: retained acknowledged messages", 0),
    "operationsPerMonth": ("Cloud Tasks queues", 100_000),
    "timeSeriesPerPeriod": ("alert policies: time series each condition returns", 1),
    # Per instance of a workload with METRICS_EXPORT=true; each series is a point per export interval (pricers.py).
    "metricDistributionSeries": (
        "Cloud Run workloads exporting app metrics: DISTRIBUTION series per instance (request latency by route, "
        "method and status class; 80 bytes a point)",
        pricers.METRIC_SERIES_DEFAULTS["metricDistributionSeries"],
    ),
    "metricScalarSeries": (
        "Cloud Run workloads exporting app metrics: INT64/DOUBLE series per instance (token and cache counters, "
        "queue gauge; 8 bytes a point)",
        pricers.METRIC_SERIES_DEFAULTS["metricScalarSeries"],
    ),
}

PRICERS: Final[Mapping[str, Pricer]] = {
    "gcp:sql/databaseInstance:DatabaseInstance": pricers.price_sql_instance,
    "gcp:redis/instance:Instance": pricers.price_redis_instance,
    "gcp:kms/cryptoKey:CryptoKey": pricers.price_kms_key,
    "gcp:cloudrunv2/service:Service": pricers.price_run_service,
    "gcp:cloudrunv2/job:Job": pricers.price_run_job,
    "gcp:cloudfunctionsv2/function:Function": pricers.price_function,
    "gcp:vpcaccess/connector:Connector": pricers.price_vpc_connector,
    "gcp:compute/routerNat:RouterNat": pricers.price_router_nat,
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": pricers.price_forwarding_rule,
    "gcp:compute/forwardingRule:ForwardingRule": pricers.price_forwarding_rule,
    "gcp:compute/globalAddress:GlobalAddress": pricers.price_address,
    "gcp:compute/address:Address": pricers.price_address,
    "gcp:compute/securityPolicy:SecurityPolicy": pricers.price_security_policy,
    "gcp:compute/projectCloudArmorTier:ProjectCloudArmorTier": pricers.price_cloud_armor_tier,
    "gcp:compute/backendService:BackendService": pricers.price_cdn_backend,
    "gcp:compute/backendBucket:BackendBucket": pricers.price_cdn_backend,
    "gcp:apigateway/gateway:Gateway": pricers.price_api_gateway,
    "gcp:secretmanager/secret:Secret": pricers.price_secret,
    "gcp:secretmanager/regionalSecret:RegionalSecret": pricers.price_secret,
    "gcp:secretmanager/secretVersion:SecretVersion": pricers.price_secret_version,
    "gcp:secretmanager/regionalSecretVersion:RegionalSecretVersion": pricers.price_secret_version,
    "gcp:artifactregistry/repository:Repository": pricers.price_registry,
    "gcp:pubsub/topic:Topic": pricers.price_topic,
    "gcp:pubsub/subscription:Subscription": pricers.price_subscription,
    "gcp:cloudscheduler/job:Job": pricers.price_scheduler_job,
    "gcp:cloudtasks/queue:Queue": pricers.price_tasks_queue,
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": pricers.price_uptime_check,
    "gcp:monitoring/alertPolicy:AlertPolicy": pricers.price_alert_policy,
    "gcp:storage/bucket:Bucket": pricers.price_bucket,
}

# Resources Google does not bill for (their cost, if any, shows up on another resource).
FREE_TYPES: Final[Mapping[str, str]] = {
    # https://cloud.google.com/workflows/pricing (2026-11): 5,000 internal steps a month free.
    "gcp:workflows/workflow:Workflow": "a daily export run is ~4 internal steps: within the 5,000 free a month",
    "docker-build:index:Image": "built by the deployer's BuildKit; its storage is priced on the Artifact Registry repository",
    "gcp:compute/network:Network": "VPC networks are free",
    "gcp:compute/subnetwork:Subnetwork": "subnets are free (flow logs are billed as logging volume)",
    "gcp:compute/router:Router": "Cloud Routers without BGP sessions are free",
    "gcp:compute/firewall:Firewall": "firewall rules are free",
    "gcp:compute/route:Route": "routes are free",
    "gcp:servicenetworking/connection:Connection": "private services access peering is free",
    "gcp:compute/healthCheck:HealthCheck": "health checks are free",
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": "serverless NEGs are free",
    "gcp:compute/uRLMap:URLMap": "URL maps are free (billed through forwarding rules)",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "proxies are free (billed through forwarding rules)",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "proxies are free (billed through forwarding rules)",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": "Google-managed certificates are free",
    "gcp:compute/sSLPolicy:SSLPolicy": "SSL policies are free",
    "gcp:sql/database:Database": "billed on its instance",
    "gcp:sql/user:User": "billed on its instance",
    "gcp:redis/instance:InstanceAuthString": "billed on its instance",
    "gcp:serviceaccount/account:Account": "service accounts are free",
    "gcp:projects/service:Service": "enabling an API is free",
    "gcp:projects/serviceIdentity:ServiceIdentity": "service agents are free",
    "gcp:storage/bucketObject:BucketObject": "storage is billed on its bucket",
    "gcp:apigateway/api:Api": "billed per call on the gateway",
    "gcp:apigateway/apiConfig:ApiConfig": "billed per call on the gateway",
    "gcp:monitoring/notificationChannel:NotificationChannel": "notification channels are free",
    "gcp:monitoring/dashboard:Dashboard": "dashboards are free",
    "gcp:monitoring/slo:Slo": "SLOs are free",
    "gcp:monitoring/customService:CustomService": "services are free",
    "gcp:monitoring/genericService:GenericService": "services are free",
    "gcp:monitoring/metricDescriptor:MetricDescriptor": (
        "descriptors are free; their points are priced on the workloads that export them (METRICS_EXPORT)"
    ),
    # A DELTA INT64 point per minute per severity only in minutes with ERROR entries: at most 4 x 43,800 x 8 bytes
    # (1.3 MiB, $0.35) a month if every minute had errors of every severity; a few KiB in normal operation.
    "gcp:logging/metric:Metric": "points only in minutes with ERROR entries: KiB a month in normal operation",
    "gcp:billing/budget:Budget": "budgets are free",
    # https://cloud.google.com/iam/docs/workload-identity-federation (2026-11): no charge for federation.
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": "Workload Identity Federation is free",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": "Workload Identity Federation is free",
    # https://cloud.google.com/kms/pricing (2026-11): key rings are free; key versions are billed.
    "gcp:kms/keyRing:KeyRing": "key rings are free (their keys' versions are billed)",
}
_FREE_PATTERNS: Final = (
    (re.compile(r"^gcp:[^:]+:\w*I[aA][mM](Member|Binding|Policy|AuditConfig|CustomRole)$"), "IAM is free"),
    (re.compile(r"^random:"), "random values are computed locally"),
    (re.compile(r"^tls:"), "keys and certificates are computed locally"),
    (re.compile(r"^time:"), "waits happen in the engine"),
    (re.compile(r"^pulumi:"), "Pulumi engine resource"),
)


def estimate(resource_type: str, props: Mapping[str, Any], usage: Mapping[str, Any] | None = None) -> Estimate | None:
    """The monthly estimate and its basis, or None if the type has no price in the catalog."""
    pricer = PRICERS.get(resource_type)
    if pricer is not None:
        return pricer(plain(props), usage or {})
    reason = FREE_TYPES.get(resource_type) or next(
        (why for pattern, why in _FREE_PATTERNS if pattern.match(resource_type)), None
    )
    return Estimate(f"free: {reason}") if reason else None


def estimate_monthly_usd(
    resource_type: str, props: Mapping[str, Any], usage: Mapping[str, Any] | None = None
) -> float | None:
    """USD per month at list price (before account-level free tiers), 0.0 if free, None if unpriced."""
    result = estimate(resource_type, props, usage)
    return None if result is None else result.monthly


def usage_for(resource_type: str, name: str, props: Mapping[str, Any], stack_usage: Mapping[str, Any] | None) -> dict:
    """The usage assumptions for one resource from the stack's `grid:usage` sections.

    `resources` entries match, from least to most specific, the `grid-service` label, the
    resource's `name` input, then its Pulumi name; later matches override earlier ones.
    """
    stack_usage = stack_usage or {}
    merged: dict[str, Any] = dict(stack_usage.get("default") or {})
    merged.update((stack_usage.get("types") or {}).get(resource_type) or {})
    by_name = stack_usage.get("resources") or {}
    for key in (get(props, f"labels.{SERVICE_LABEL}"), get(props, "name"), name):
        if isinstance(key, str) and key in by_name:
            merged.update(by_name[key])
    return merged


@dataclass(frozen=True)
class PricedResource:
    urn: str
    type: str
    monthly: float
    basis: str


@dataclass(frozen=True)
class PlanPrice:
    resources: tuple[PricedResource, ...]
    unpriced: tuple[str, ...]

    @property
    def monthly(self) -> float:
        return sum(resource.monthly for resource in self.resources)


@dataclass(frozen=True)
class PricingInput:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]


class _FreeTiers:
    """What is left of each account-level free allowance as resources consume it."""

    def __init__(self) -> None:
        self.left = {pool: units for pool, (units, _source) in catalog.FREE_ALLOWANCES.items()}

    def apply(self, result: Estimate) -> tuple[float, str]:
        monthly, credits = result.monthly, []
        for line in result.lines:
            if line.free_pool is None or self.left.get(line.free_pool, 0) <= 0 or line.quantity <= 0:
                continue
            used = min(self.left[line.free_pool], line.quantity)
            self.left[line.free_pool] -= used
            monthly -= used * line.price.usd * line.multiplier
            credits.append(f"{used:,.6g} {line.price.unit} from the {line.free_pool} free tier")
        basis = result.basis + (f" - {'; '.join(credits)}" if credits else "")
        return max(monthly, 0.0), basis


def price_resources(resources: Iterable[PricingInput], stack_usage: Mapping[str, Any] | None = None) -> PlanPrice:
    """Price every resource of a plan, applying account-level free tiers once, in plan order."""
    free_tiers = _FreeTiers()
    priced: list[PricedResource] = []
    unpriced: list[str] = []
    for resource in resources:
        props = plain(resource.props)
        result = estimate(resource.type, props, usage_for(resource.type, resource.name, props, stack_usage))
        if result is None:
            if resource.type not in unpriced:
                unpriced.append(resource.type)
            continue
        monthly, basis = free_tiers.apply(result)
        priced.append(PricedResource(resource.urn, resource.type, round(monthly, 4), basis))
    return PlanPrice(tuple(priced), tuple(sorted(unpriced)))
