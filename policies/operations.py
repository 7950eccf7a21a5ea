"""Stack rules for what breaks once a deploy is running (issue 16): connections, background work, probes, checks.

Each looks across resources, so a change to one of them (more instances, a bigger pool, a pull consumer, a GPU
that scales to zero) is judged against the others it affects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import (
    APP_DEFAULT_POOL,
    FUNCTION,
    PUBSUB_SUBSCRIPTION,
    RESERVED_CONNECTIONS,
    RUN_DEFAULT_MAX_INSTANCES,
    RUN_JOB,
    RUN_SERVICE,
    SERVICE_LABEL,
    SQL_INSTANCE,
    default_max_connections,
    grants,
    service_role,
)
from policies.pricers import sql_tier_shape
from policies.props import as_number, container_env, get, is_known, known_items
from policies.rule import Meta, StackResource, StackSubject, google_doc, stack_policy
from policies.security.sql import is_replica

UPTIME_CHECK = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
SUBSCRIPTION_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
# A service that runs work outside requests says so with this label (value: what the work is).
BACKGROUND_LABEL = "grid-background"
DATABASE_ENV = "DATABASE_URL"
POOL_ENV = "DB_POOL_MAX_SIZE"

# --- database connections -----------------------------------------------------------------------------------


def _number(value: Any, default: float) -> float | None:
    """A known number, ``default`` when absent, None when unknown (then the workload is not judged)."""
    if value is None:
        return default
    return as_number(value) if is_known(value) else None


def _database_client(resource: StackResource) -> tuple[float, float] | None:
    """(connections per instance, max instances) of a workload that connects to the database, else None."""
    props = resource.props
    if resource.type in (RUN_SERVICE, RUN_JOB):
        template = get(props, "template.template") if resource.type == RUN_JOB else get(props, "template")
        env = container_env(known_items(template, "containers"))
        if DATABASE_ENV not in env:
            return None
        if resource.type == RUN_JOB:
            instances = _number(get(template, "parallelism", get(props, "template.parallelism")), 1)
            return _pair(_number(env.get(POOL_ENV), 1), instances)
        return _pair(
            _number(env.get(POOL_ENV), APP_DEFAULT_POOL),
            _number(get(template, "scaling.maxInstanceCount"), RUN_DEFAULT_MAX_INSTANCES),
        )
    if resource.type == FUNCTION:
        config = get(props, "serviceConfig") or {}
        secrets = {e.get("key") for e in known_items(config, "secretEnvironmentVariables") if isinstance(e, dict)}
        plain = get(config, "environmentVariables") or {}
        if DATABASE_ENV not in secrets and DATABASE_ENV not in plain:
            return None
        return _pair(
            _number(get(plain, POOL_ENV), APP_DEFAULT_POOL),
            _number(get(config, "maxInstanceCount"), RUN_DEFAULT_MAX_INSTANCES),
        )
    return None


def _pair(pool: float | None, instances: float | None) -> tuple[float, float] | None:
    return None if pool is None or instances is None else (pool, instances)


def _connection_limit(props: Mapping[str, Any]) -> float | None:
    for flag in known_items(props, "settings.databaseFlags"):
        if isinstance(flag, dict) and flag.get("name") == "max_connections":
            return as_number(flag.get("value"))
    tier = get(props, "settings.tier")
    shape = sql_tier_shape(tier) if isinstance(tier, str) else None
    return default_max_connections(shape[1]) if shape else None


def _connections_fit(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    primaries = [r for r in s.resources if r.type == SQL_INSTANCE and not is_replica(r.props)]
    if len(primaries) != 1:
        return  # with several databases the plan does not say which workload uses which
    [primary] = primaries
    limit = _connection_limit(primary.props)
    if limit is None:
        return
    clients = {r.name: pair for r in s.resources if (pair := _database_client(r)) is not None}
    reserved = as_number(s.config["reservedConnections"]) or 0
    wanted = sum(pool * instances for pool, instances in clients.values()) + reserved
    if wanted > limit:
        parts = ", ".join(f"{name} {pool:g}x{instances:g}" for name, (pool, instances) in sorted(clients.items()))
        yield (
            primary.urn,
            (
                f"the workloads may open {wanted:g} connections ({parts}, {reserved:g} reserved) but max_connections "
                f"is {limit:g}: size {POOL_ENV} per workload, lower maxInstanceCount, or raise max_connections"
            ),
        )


# --- background work ----------------------------------------------------------------------------------------


def _last_segment(value: Any) -> str | None:
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else None


def _pull_consumers(s: StackSubject) -> dict[str, str]:
    """Service account member -> pull subscription it consumes (a subscription without pushConfig)."""
    pull = set()
    for r in (r for r in s.resources if r.type == PUBSUB_SUBSCRIPTION):
        endpoint = get(r.props, "pushConfig.pushEndpoint")
        if is_known(endpoint) and not endpoint:
            pull.add(_last_segment(get(r.props, "name")) or r.name)
    consumers = {}
    for r in s.resources:
        if r.type != SUBSCRIPTION_IAM or _last_segment(get(r.props, "subscription")) not in pull:
            continue
        for role, member in grants(r.props):
            if role in ("roles/pubsub.subscriber", "roles/pubsub.editor") and member.startswith("serviceAccount:"):
                consumers[member] = _last_segment(get(r.props, "subscription")) or ""
    return consumers


def _background_work(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    consumers = _pull_consumers(s)
    for r in (r for r in s.resources if r.type == RUN_SERVICE):
        account = get(r.props, "template.serviceAccount")
        work = get(r.props, f"labels.{BACKGROUND_LABEL}")
        if is_known(account) and f"serviceAccount:{account}" in consumers:
            work = f"pulls {consumers[f'serviceAccount:{account}']}"
        if not isinstance(work, str) or not work:
            continue
        containers = known_items(r.props, "template.containers")
        idle = [get(c, "resources.cpuIdle", True) for c in containers]  # Cloud Run's default: request-based
        minimum = get(r.props, "template.scaling.minInstanceCount", 0)
        if not all(is_known(v) for v in (*idle, minimum)):
            continue
        if any(v is not False for v in idle):
            yield (
                r.urn,
                (
                    f"{r.name} runs background work ({work}) but bills CPU only during requests "
                    "(cpuIdle): between requests it gets almost no CPU"
                ),
            )
        if (as_number(minimum) or 0) < 1:
            yield (
                r.urn,
                (f"{r.name} runs background work ({work}) but may scale to zero instances: then nothing does it"),
            )


# --- uptime checks on GPUs that scale to zero ---------------------------------------------------------------


def _gpu(props: Mapping[str, Any]) -> bool:
    """True only when the plan says so: an accelerator node selector or an nvidia.com/gpu limit."""
    accelerator = get(props, "template.nodeSelector.accelerator")
    if is_known(accelerator) and accelerator:
        return True
    limits = [get(c, "resources.limits") for c in known_items(props, "template.containers")]
    return any(
        isinstance(limit, dict) and is_known(limit.get("nvidia.com/gpu")) and limit.get("nvidia.com/gpu")
        for limit in limits
    )


def _uptime_on_cold_gpu(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    cold_gpu = {}
    for r in (r for r in s.resources if r.type == RUN_SERVICE):
        minimum = get(r.props, "template.scaling.minInstanceCount", 0)
        if _gpu(r.props) and is_known(minimum) and (as_number(minimum) or 0) == 0:
            cold_gpu[service_role(r.name, r.props) or r.name] = r.name
            if isinstance(get(r.props, "name"), str):
                cold_gpu[get(r.props, "name")] = r.name
    for check in (r for r in s.resources if r.type == UPTIME_CHECK):
        target = get(check.props, f"userLabels.{SERVICE_LABEL}")
        host = get(check.props, "monitoredResource.labels.host")
        service = cold_gpu.get(target) if isinstance(target, str) else None
        if service is None and isinstance(host, str):  # a check straight at the service's run.app host
            service = next((name for key, name in cold_gpu.items() if host.startswith(f"{key}-")), None)
        if service is not None:
            yield (
                check.urn,
                (
                    f"uptime check {check.name} calls {service}, a GPU service that scales to zero: "
                    "each check keeps a GPU instance billed, and its cold start fails the check"
                ),
            )


# --- startup probes and Direct VPC egress -------------------------------------------------------------------


def _probe_seconds(probe: Mapping[str, Any]) -> float | None:
    """How long a startup probe lets an instance start (Cloud Run's defaults: period 10 s, threshold 3)."""
    values = [get(probe, "initialDelaySeconds", 0), get(probe, "periodSeconds", 10), get(probe, "failureThreshold", 3)]
    if not all(is_known(v) for v in values):
        return None
    delay, period, failures = (as_number(v) or 0 for v in values)
    return delay + period * failures


def _probe_covers_egress(s: StackSubject) -> Iterator[tuple[str | None, str]]:
    wanted = as_number(s.config["minStartupSeconds"]) or 0
    for r in (r for r in s.resources if r.type == RUN_SERVICE):
        if not known_items(r.props, "template.vpcAccess.networkInterfaces"):
            continue  # no Direct VPC egress
        for container in known_items(r.props, "template.containers"):
            probe = get(container, "startupProbe")
            if not isinstance(probe, dict):
                continue  # Cloud Run's default TCP startup probe waits 240 s
            seconds = _probe_seconds(probe)
            if seconds is not None and seconds < wanted:
                yield (
                    r.urn,
                    (
                        f"{r.name} uses Direct VPC egress, which can take a minute or more to connect at "
                        f"instance start, but its startup probe gives up after {seconds:g}s "
                        f"(at least {wanted:g}s)"
                    ),
                )


_DIRECT_VPC = "https://cloud.google.com/run/docs/configuring/vpc-direct-vpc#limitations"

POLICIES: list[Policy] = [
    stack_policy(
        Meta(
            name="db-connections-fit-limit",
            description="What the database's workloads may open at most (pool x max instances, summed) plus a "
            "reserve fits the Cloud SQL primary's max_connections.",
            remediation="Set DB_POOL_MAX_SIZE per workload (the program sizes it from the plan), lower "
            "maxInstanceCount, or raise the max_connections flag / the tier.",
            sources=(
                google_doc(
                    "https://cloud.google.com/sql/docs/postgres/quotas#maximum_concurrent_connections",
                    "sql-max-connections",
                ),
                google_doc("https://cloud.google.com/sql/docs/postgres/manage-connections", "sql-connections"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
            params={"reservedConnections": {"type": "integer", "minimum": 0, "default": RESERVED_CONNECTIONS}},
        ),
        _connections_fit,
    ),
    stack_policy(
        Meta(
            name="run-background-work-has-cpu",
            description="A Cloud Run service that consumes a pull subscription or is labelled grid-background "
            "has CPU always allocated (cpuIdle=false) and at least one instance.",
            remediation="Set resources.cpuIdle=false and scaling.minInstanceCount>=1, or move the work into "
            "requests (a push subscription, Cloud Tasks, Cloud Scheduler).",
            sources=(
                google_doc("https://cloud.google.com/run/docs/tips/general#avoid-background", "run-background"),
                google_doc("https://cloud.google.com/run/docs/configuring/billing-settings", "run-billing-settings"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
        ),
        _background_work,
    ),
    stack_policy(
        Meta(
            name="monitoring-no-uptime-on-cold-gpu",
            description="No uptime check calls a GPU Cloud Run service that scales to zero.",
            remediation="Drop the check (alert on the service's 5xx instead) or keep a warm instance "
            "(minInstanceCount>=1) if it must be checked.",
            sources=(
                google_doc("https://cloud.google.com/run/docs/configuring/services/gpu", "run-gpu"),
                google_doc("https://cloud.google.com/monitoring/uptime-checks", "uptime-checks"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        _uptime_on_cold_gpu,
    ),
    stack_policy(
        Meta(
            name="run-startup-probe-covers-vpc-egress",
            description="A service with Direct VPC egress lets instances start for at least `minStartupSeconds`.",
            remediation="Raise the startup probe's periodSeconds x failureThreshold (at most 240 s) and retry the "
            "first connection in the app within it.",
            sources=(
                google_doc(_DIRECT_VPC, "direct-vpc-limitations"),
                google_doc(
                    "https://cloud.google.com/run/docs/configuring/healthchecks#startup-probes", "startup-probes"
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
            params={"minStartupSeconds": {"type": "integer", "minimum": 0, "maximum": 240, "default": 120}},
        ),
        _probe_covers_egress,
    ),
]
