"""One pricing function per resource type: properties + usage assumptions -> priced lines.

Each function reads the resource's camelCase inputs (UNKNOWN-aware, unknowns fall back to the
provider default) and the usage assumptions for that resource, and returns the `Line`s of its
monthly bill. The tables come from price_catalog; nothing here holds a price.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policies import price_catalog as catalog
from policies.gcp import EXTERNAL_LABEL, RUN_JOB, RUN_SERVICE
from policies.price_catalog import HOURS_PER_MONTH, SECONDS_PER_MONTH, Price
from policies.props import as_number, container_env, get, is_known, known_items


@dataclass(frozen=True)
class Line:
    """quantity x price x multiplier, e.g. 1460 vCPU-hours x $0.0413 x 2 (HA)."""

    label: str
    quantity: float
    price: Price
    multiplier: float = 1.0
    multiplier_label: str = ""
    free_pool: str | None = None  # account-level free tier this usage draws from

    @property
    def amount(self) -> float:
        return self.quantity * self.price.usd * self.multiplier

    def describe(self) -> str:
        extra = f" {self.multiplier_label}" if self.multiplier_label else ""
        return f"{self.label} x {money(self.price.usd)}/{self.price.unit}{extra}"


@dataclass(frozen=True)
class Estimate:
    summary: str
    lines: tuple[Line, ...] = ()

    @property
    def monthly(self) -> float:
        return sum(line.amount for line in self.lines)

    @property
    def basis(self) -> str:
        if not self.lines:
            return self.summary
        return f"{self.summary}: " + " + ".join(line.describe() for line in self.lines)


def money(usd: float) -> str:
    """$0.000024 rather than $2.4e-05: unit prices go down to millionths of a dollar."""
    return "$" + f"{usd:.8f}".rstrip("0").rstrip(".")


Usage = Mapping[str, Any]
Env = Mapping[str, Any]
"""A workload's plain environment variables (name -> value)."""
Pricer = Callable[[Mapping[str, Any], Usage], "Estimate | None"]


def known(value: Any, default: Any) -> Any:
    return value if value is not None and is_known(value) else default


def number(usage: Usage, key: str, default: float) -> float:
    value = usage.get(key, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def region_of(props: Mapping[str, Any]) -> str:
    for key in ("region", "location"):
        value = get(props, key)
        if isinstance(value, str) and value:
            return value.lower()
    return catalog.DEFAULT_REGION


def region_factor(family: str, region: str) -> tuple[float, str]:
    """The multiplier over us-central1 and how to show it in a basis."""
    factors = catalog.REGION_FACTORS[family]
    if region not in factors:
        return 1.0, f"(region {region} not in catalog: {catalog.DEFAULT_REGION} price)"
    factor = factors[region]
    return factor, "" if factor == 1.0 else f"x{factor:g} {region}"


# --- Parsing sizes ---------------------------------------------------------------------------

_SQL_TIERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[float, float]]], ...] = (
    (re.compile(r"^db-custom-(\d+)-(\d+)$"), lambda m: (float(m[1]), int(m[2]) / 1024)),
    (re.compile(r"^db-perf-optimized-N-(\d+)$"), lambda m: (float(m[1]), float(m[1]) * 8)),
    (re.compile(r"^db-n1-standard-(\d+)$"), lambda m: (float(m[1]), float(m[1]) * 3.75)),
    (re.compile(r"^db-n1-highmem-(\d+)$"), lambda m: (float(m[1]), float(m[1]) * 6.5)),
)
_SHARED_CORE_SHAPES = {"db-f1-micro": (0.2, 0.6), "db-g1-small": (0.5, 1.7)}


def sql_tier_shape(tier: str) -> tuple[float, float] | None:
    """(vCPUs, memory GB) of a Cloud SQL tier name, or None if the name is not recognised."""
    if tier in _SHARED_CORE_SHAPES:
        return _SHARED_CORE_SHAPES[tier]
    for pattern, shape in _SQL_TIERS:
        match = pattern.match(tier)
        if match:
            return shape(match)
    return None


_MEMORY_UNITS = {
    "": 1 / 2**30,
    "k": 1e3 / 2**30,
    "M": 1e6 / 2**30,
    "G": 1e9 / 2**30,
    "Ki": 1 / 2**20,
    "Mi": 1 / 2**10,
    "Gi": 1.0,
    "Ti": 2**10,
}


def memory_gib(value: Any, default: float) -> float:
    """GiB from a Kubernetes-style quantity: 512Mi, 2Gi, 256M (decimal, as functions use)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(k|M|G|Ki|Mi|Gi|Ti)?\s*", value) if isinstance(value, str) else None
    if not match:
        return default
    return float(match[1]) * _MEMORY_UNITS[match[2] or ""]


def cpu_count(value: Any, default: float) -> float:
    """vCPUs from "1", "2", "1000m" or "0.083"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return default
    try:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)
    except ValueError:
        return default


# --- Cloud SQL -------------------------------------------------------------------------------


def price_sql_instance(props: Mapping[str, Any], usage: Usage) -> Estimate | None:
    tier = get(props, "settings.tier")
    if not isinstance(tier, str):
        return None
    ha = get(props, "settings.availabilityType") == "REGIONAL"
    factor, region_label = region_factor("compute", region_of(props))
    ha_multiplier = catalog.SQL_HA_MULTIPLIER if ha else 1.0
    multiplier = factor * ha_multiplier
    label = " ".join(part for part in ("x2 HA" if ha else "", region_label) if part)
    lines: list[Line] = []
    if tier in catalog.SQL_SHARED_CORE:
        lines.append(Line(f"{HOURS_PER_MONTH:g} h", HOURS_PER_MONTH, catalog.SQL_SHARED_CORE[tier], multiplier, label))
    else:
        shape = sql_tier_shape(tier)
        if shape is None:
            return None
        vcpus, memory = shape
        perf = tier.startswith("db-perf-optimized")
        edition = known(get(props, "settings.edition"), "ENTERPRISE_PLUS" if perf else "ENTERPRISE")
        rates = catalog.SQL_COMPUTE.get(edition, catalog.SQL_COMPUTE["ENTERPRISE"])
        lines.append(
            Line(f"{vcpus:g} vCPU x {HOURS_PER_MONTH:g} h", vcpus * HOURS_PER_MONTH, rates["vcpu"], multiplier, label)
        )
        lines.append(
            Line(f"{memory:g} GB x {HOURS_PER_MONTH:g} h", memory * HOURS_PER_MONTH, rates["memory"], multiplier, label)
        )
    disk_gb = float(known(get(props, "settings.diskSize"), 10))
    disk_type = known(get(props, "settings.diskType"), "PD_SSD")
    storage = catalog.SQL_STORAGE.get(disk_type, catalog.SQL_STORAGE["PD_SSD"])
    lines.append(Line(f"{disk_gb:g} GB {disk_type}", disk_gb, storage, multiplier, label))
    replica = bool(known(get(props, "masterInstanceName"), ""))
    if not replica and get(props, "settings.backupConfiguration.enabled") is True:
        backup_gb = number(usage, "backupGb", disk_gb * 0.5)
        lines.append(Line(f"{backup_gb:g} GB backups", backup_gb, catalog.SQL_BACKUP, factor, region_label))
    summary = f"{tier} {'REGIONAL' if ha else 'ZONAL'}{' read replica' if replica else ''}"
    return Estimate(summary, tuple(lines))


# --- Memorystore ----------------------------------------------------------------------------


def price_redis_instance(props: Mapping[str, Any], usage: Usage) -> Estimate | None:
    tier = known(get(props, "tier"), "BASIC")
    size = get(props, "memorySizeGb")
    if not isinstance(size, (int, float)) or tier not in catalog.REDIS_GB_HOUR:
        return None
    band = next(name for limit, name in catalog.REDIS_BANDS if size <= limit)
    factor, region_label = region_factor("compute", region_of(props))
    price = catalog.REDIS_GB_HOUR[tier][band]
    line = Line(f"{size:g} GB x {HOURS_PER_MONTH:g} h", size * HOURS_PER_MONTH, price, factor, region_label)
    return Estimate(f"{tier} {band}", (line,))


# --- Cloud Run and functions ----------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What one instance of a serverless workload reserves, and how it is billed."""

    vcpu: float
    memory_gib: float
    gpus: float
    gpu_price: Price
    min_instances: float
    instance_based: bool


def _container_shape(containers: list[Any]) -> tuple[float, float, float, bool]:
    vcpu = memory = gpus = 0.0
    always_on = False
    for container in containers or [{}]:
        limits = known(get(container, "resources.limits"), {})
        vcpu += cpu_count(known(limits.get("cpu"), None), 1.0)
        memory += memory_gib(known(limits.get("memory"), None), 0.5)
        gpus += cpu_count(known(limits.get("nvidia.com/gpu"), None), 0.0)
        always_on = always_on or get(container, "resources.cpuIdle") is False
    return vcpu, memory, gpus, always_on


def run_shape(resource_type: str, props: Mapping[str, Any]) -> Shape:
    template = known(get(props, "template.template" if resource_type == RUN_JOB else "template"), {})
    vcpu, memory, gpus, always_on = _container_shape(known_items(template, "containers"))
    accelerator = get(template, "nodeSelector.accelerator")
    if gpus == 0 and isinstance(accelerator, str):
        gpus = 1.0
    redundancy_off = get(template, "gpuZonalRedundancyDisabled") is True
    gpu_price = catalog.RUN_GPU["nvidia-l4-no-zonal-redundancy" if redundancy_off else "nvidia-l4"]
    min_instances = max(
        float(known(get(template, "scaling.minInstanceCount"), 0)),
        float(known(get(props, "scaling.minInstanceCount"), 0)),
    )
    return Shape(
        vcpu, memory, gpus, gpu_price, min_instances, instance_based=always_on or gpus > 0 or resource_type == RUN_JOB
    )


# Cloud Run functions default CPU by memory size (GiB upper bound -> vCPU).
_FUNCTION_DEFAULT_CPU = (
    (0.125, 0.083),
    (0.25, 0.167),
    (0.5, 0.333),
    (1.0, 0.583),
    (2.0, 1.0),
    (8.0, 2.0),
    (16.0, 4.0),
    (float("inf"), 8.0),
)


def function_shape(props: Mapping[str, Any]) -> Shape:
    memory = memory_gib(known(get(props, "serviceConfig.availableMemory"), None), 256e6 / 2**30)
    default_cpu = next(cpu for limit, cpu in _FUNCTION_DEFAULT_CPU if memory <= limit + 1e-9)
    vcpu = cpu_count(known(get(props, "serviceConfig.availableCpu"), None), default_cpu)
    min_instances = float(known(get(props, "serviceConfig.minInstanceCount"), 0))
    return Shape(vcpu, memory, 0.0, catalog.RUN_GPU["nvidia-l4"], min_instances, instance_based=False)


def _traffic(usage: Usage) -> tuple[float, float]:
    """(requests a month, busy instance-seconds a month) of a serving workload."""
    requests = number(usage, "requestsPerMonth", 1_000_000)
    return requests, requests * number(usage, "avgRequestSeconds", 0.2) / max(number(usage, "avgConcurrency", 1), 1e-9)


def _request_based_lines(shape: Shape, usage: Usage, factor: float, label: str) -> list[Line]:
    rates = catalog.RUN_REQUEST_BASED
    requests, active = _traffic(usage)
    lines = [
        Line(
            f"{active:,.0f} s x {shape.vcpu:g} vCPU",
            active * shape.vcpu,
            rates["vcpu"],
            factor,
            label,
            "run-request-vcpu-seconds",
        ),
        Line(
            f"{active:,.0f} s x {shape.memory_gib:g} GiB",
            active * shape.memory_gib,
            rates["memory"],
            factor,
            label,
            "run-request-gib-seconds",
        ),
        Line(f"{requests / 1e6:g}M requests", requests / 1e6, rates["requests"], factor, label, "run-requests"),
    ]
    idle = max(shape.min_instances * SECONDS_PER_MONTH - active, 0.0)
    if idle:
        lines += [
            Line(
                f"{shape.min_instances:g} idle min instances x {shape.vcpu:g} vCPU",
                idle * shape.vcpu,
                rates["idle_vcpu"],
                factor,
                label,
            ),
            Line(
                f"{shape.min_instances:g} idle min instances x {shape.memory_gib:g} GiB",
                idle * shape.memory_gib,
                rates["idle_memory"],
                factor,
                label,
            ),
        ]
    return lines


def _instance_lines(shape: Shape, instance_seconds: float, factor: float, label: str) -> list[Line]:
    rates = catalog.RUN_INSTANCE_BASED
    lines = [
        Line(
            f"{instance_seconds:,.0f} instance-s x {shape.vcpu:g} vCPU",
            instance_seconds * shape.vcpu,
            rates["vcpu"],
            factor,
            label,
            "run-instance-vcpu-seconds",
        ),
        Line(
            f"{instance_seconds:,.0f} instance-s x {shape.memory_gib:g} GiB",
            instance_seconds * shape.memory_gib,
            rates["memory"],
            factor,
            label,
            "run-instance-gib-seconds",
        ),
    ]
    if shape.gpus:
        lines.append(
            Line(
                f"{instance_seconds:,.0f} instance-s x {shape.gpus:g} L4 GPU",
                instance_seconds * shape.gpus,
                shape.gpu_price,
                factor,
                label,
            )
        )
    return lines


def _serving_estimate(shape: Shape, props: Mapping[str, Any], usage: Usage, what: str, env: Env) -> Estimate:
    factor, label = region_factor("run", region_of(props))
    requests, active = _traffic(usage)
    if not shape.instance_based:
        lines = _request_based_lines(shape, usage, factor, label)
        summary = f"{what}, request-based billing"
    else:
        # Instance-based billing charges an instance's whole life, the idle minutes Cloud Run keeps it after a
        # request included (https://cloud.google.com/run/docs/configuring/billing-settings), not only busy time.
        instance_seconds = _alive_seconds(shape, requests, active)
        lines = _instance_lines(shape, instance_seconds, factor, label)
        summary = f"{what}, instance-based billing, min {shape.min_instances:g}"
    interval = _export_interval(env)
    metrics = _app_metrics_line(env, usage, _serving_exports(shape, requests, active, interval), interval)
    return Estimate(summary, tuple(lines + ([metrics] if metrics else [])))


def price_run_service(props: Mapping[str, Any], usage: Usage) -> Estimate:
    env = container_env(known_items(known(get(props, "template"), {}), "containers"))
    return _serving_estimate(run_shape(RUN_SERVICE, props), props, usage, "Cloud Run service", env)


def price_function(props: Mapping[str, Any], usage: Usage) -> Estimate:
    env = known(get(props, "serviceConfig.environmentVariables"), {})
    return _serving_estimate(function_shape(props), props, usage, "Cloud Run function", env)


def price_run_job(props: Mapping[str, Any], usage: Usage) -> Estimate:
    shape = run_shape(RUN_JOB, props)
    factor, label = region_factor("run", region_of(props))
    tasks = float(known(get(props, "template.taskCount"), 1))
    executions = number(usage, "executionsPerMonth", 30)
    task_seconds = number(usage, "taskSeconds", 300)
    seconds = executions * tasks * task_seconds
    summary = f"Cloud Run job, {executions:g} executions x {tasks:g} tasks"
    lines = _instance_lines(shape, seconds, factor, label)
    env = container_env(known_items(known(get(props, "template.template"), {}), "containers"))
    interval = _export_interval(env)
    # A task exports every interval while it runs (its CPU is always allocated) and flushes once as it ends.
    metrics = _app_metrics_line(env, usage, executions * tasks * (task_seconds // interval + 1), interval)
    return Estimate(summary, tuple(lines + ([metrics] if metrics else [])))


# --- App metrics: custom-metric ingestion in Cloud Monitoring -----------------------------------------------
# A workload with METRICS_EXPORT=true (stacks/service_env.py) exports the app's OpenTelemetry metrics
# (app/common/metrics.py) every METRICS_EXPORT_INTERVAL_SECONDS, one point per time series it has recorded since
# it started (cumulative temporality), against generic_task with task_id = the instance: every instance writes a
# series set of its own. Monitoring bills those points by bytes (price_catalog.MONITORING_POINT_BYTES).

METRICS_EXPORT_ENV = "METRICS_EXPORT"
METRICS_INTERVAL_ENV = "METRICS_EXPORT_INTERVAL_SECONDS"
DEFAULT_EXPORT_INTERVAL_SECONDS = 60.0
"""The app's own default when the variable is unset (app/common/settings.py; a test keeps the two equal)."""
# Cloud Run keeps an instance that has served a request for up to 15 minutes before it shuts it down
# (https://cloud.google.com/run/docs/about-instance-autoscaling#idle-instance): requests arriving closer together
# than that keep one instance up, exporting, all month.
IDLE_INSTANCE_SECONDS = 900.0
# Time series one instance exports (usage keys): the defaults cover the busiest bundled service in normal
# operation (tests/policies/test_metrics_pricing.py counts them from the apps' route tables and metric specs).
METRIC_SERIES_DEFAULTS: dict[str, float] = {"metricDistributionSeries": 24, "metricScalarSeries": 8}


def _export_interval(env: Env) -> float:
    """METRICS_EXPORT_INTERVAL_SECONDS; the app's default when unset, unknown or not a positive number."""
    value = env.get(METRICS_INTERVAL_ENV)
    seconds = as_number(value) if is_known(value) else None
    return seconds if seconds is not None and seconds > 0 else DEFAULT_EXPORT_INTERVAL_SECONDS


def _alive_seconds(shape: Shape, requests: float, active: float) -> float:
    """Instance-seconds a month a service's (or function's) instances are up: their busy time, the min instances
    all month, and, between requests that arrive less than IDLE_INSTANCE_SECONDS apart, one more instance all month
    (each request keeps an instance up to that long after it; requests assumed spread over the month)."""
    return max(
        shape.min_instances * SECONDS_PER_MONTH, min(SECONDS_PER_MONTH, requests * IDLE_INSTANCE_SECONDS), active
    )


def _serving_exports(shape: Shape, requests: float, active: float, interval: float) -> float:
    """Exports a month by a service's (or function's) instances, each of all its series.

    Instances export while they are up (``_alive_seconds``). Request-based billing throttles CPU outside requests
    (https://cloud.google.com/run/docs/configuring/billing-settings): an idle instance's overdue export runs at its
    next request, so there are at most as many exports as requests beyond the busy time's own."""
    exports = _alive_seconds(shape, requests, active) / interval
    if not shape.instance_based:
        exports = min(exports, requests + active / interval)
    return exports


def _app_metrics_line(env: Env, usage: Usage, exports: float, interval: float) -> Line | None:
    if str(env.get(METRICS_EXPORT_ENV, "")).lower() != "true":
        return None
    distribution = number(usage, "metricDistributionSeries", METRIC_SERIES_DEFAULTS["metricDistributionSeries"])
    scalar = number(usage, "metricScalarSeries", METRIC_SERIES_DEFAULTS["metricScalarSeries"])
    sizes = catalog.MONITORING_POINT_BYTES
    mib = exports * (distribution * sizes["distribution"] + scalar * sizes["scalar"]) / 2**20
    label = (
        f"{mib:,.4g} MiB app metrics ({exports:,.0f} exports every {interval:g} s x "
        f"{distribution:g} distribution + {scalar:g} scalar series)"
    )
    return Line(label, mib, catalog.MONITORING_DATA, free_pool="monitoring-mib")


# --- Networking --------------------------------------------------------------------------------


def price_vpc_connector(props: Mapping[str, Any], usage: Usage) -> Estimate | None:
    machine = known(get(props, "machineType"), "e2-micro")
    if machine not in catalog.VPC_CONNECTOR_INSTANCE_HOUR:
        return None
    instances = number(usage, "avgInstances", float(known(get(props, "minInstances"), 2)))
    factor, label = region_factor("compute", region_of(props))
    line = Line(
        f"{instances:g} x {machine} x {HOURS_PER_MONTH:g} h",
        instances * HOURS_PER_MONTH,
        catalog.VPC_CONNECTOR_INSTANCE_HOUR[machine],
        factor,
        label,
    )
    return Estimate("Serverless VPC Access connector", (line,))


def price_router_nat(props: Mapping[str, Any], usage: Usage) -> Estimate:
    vms = number(usage, "vmCount", 2)
    gigabytes = number(usage, "gbProcessedPerMonth", 10)
    if vms > 32:
        gateway = Line(f"{HOURS_PER_MONTH:g} h", HOURS_PER_MONTH, catalog.NAT_GATEWAY_MAX_HOUR)
    else:
        gateway = Line(f"{vms:g} VMs x {HOURS_PER_MONTH:g} h", vms * HOURS_PER_MONTH, catalog.NAT_GATEWAY_PER_VM_HOUR)
    return Estimate("Cloud NAT", (gateway, Line(f"{gigabytes:g} GB", gigabytes, catalog.NAT_DATA)))


def price_forwarding_rule(props: Mapping[str, Any], usage: Usage) -> Estimate:
    gigabytes = number(usage, "gbProcessedPerMonth", 10)
    return Estimate(
        "forwarding rule",
        (
            Line(f"{HOURS_PER_MONTH:g} h", HOURS_PER_MONTH, catalog.FORWARDING_RULE_HOUR),
            Line(f"{gigabytes:g} GB", gigabytes, catalog.LB_DATA),
        ),
    )


def price_address(props: Mapping[str, Any], usage: Usage) -> Estimate:
    internal = get(props, "addressType") == "INTERNAL" or get(props, "purpose") in (
        "VPC_PEERING",
        "PRIVATE_SERVICE_CONNECT",
        "GCE_ENDPOINT",
    )
    if internal:
        return Estimate("internal address range: no charge")
    if usage.get("attached", True):
        return Estimate("external IP in use by a forwarding rule: no charge")
    return Estimate(
        "unattached static IP", (Line(f"{HOURS_PER_MONTH:g} h", HOURS_PER_MONTH, catalog.UNUSED_STATIC_IP_HOUR),)
    )


def price_security_policy(props: Mapping[str, Any], usage: Usage) -> Estimate:
    rules = max(len(known_items(props, "rules")), 1)  # the default rule always exists
    requests = number(usage, "requestsPerMonth", 1_000_000) / 1e6
    return Estimate(
        "Cloud Armor Standard",
        (
            Line("1 policy", 1, catalog.CLOUD_ARMOR["policy"]),
            Line(f"{rules} rules", rules, catalog.CLOUD_ARMOR["rule"]),
            Line(f"{requests:g}M requests", requests, catalog.CLOUD_ARMOR["requests"]),
        ),
    )


def price_cloud_armor_tier(props: Mapping[str, Any], usage: Usage) -> Estimate | None:
    tier = known(get(props, "cloudArmorTier"), "CA_STANDARD")
    price = catalog.CLOUD_ARMOR_TIER_MONTH.get(tier)
    return Estimate(f"Cloud Armor {tier}", (Line("1 month", 1, price),)) if price else None


def price_cdn_backend(props: Mapping[str, Any], usage: Usage) -> Estimate:
    if get(props, "enableCdn") is not True:
        return Estimate("backend without CDN: no charge (billed through forwarding rules)")
    egress = number(usage, "egressGbPerMonth", 10)
    fill = number(usage, "cacheFillGbPerMonth", 1)
    lookups = number(usage, "requestsPerMonth", 1_000_000) / 1e4
    return Estimate(
        "Cloud CDN",
        (
            Line(f"{egress:g} GB", egress, catalog.CDN["egress"]),
            Line(f"{fill:g} GB", fill, catalog.CDN["fill"]),
            Line(f"{lookups:g} x 10k lookups", lookups, catalog.CDN["lookups"]),
        ),
    )


# --- API front doors -------------------------------------------------------------------------


def price_api_gateway(props: Mapping[str, Any], usage: Usage) -> Estimate:
    calls = number(usage, "requestsPerMonth", 1_000_000) / 1e6
    return Estimate(
        "API Gateway", (Line(f"{calls:g}M calls", calls, catalog.API_GATEWAY_CALLS, free_pool="api-gateway-calls"),)
    )


# --- Platform services ----------------------------------------------------------------------


def price_secret(props: Mapping[str, Any], usage: Usage) -> Estimate:
    operations = number(usage, "accessOpsPerMonth", 10_000) / 1e4
    external = get(props, f"labels.{EXTERNAL_LABEL}")
    # The URL of a Postgres/Redis outside Google Cloud: the store itself is on its provider's bill, not here.
    outside = f" (URL of an external {external}, billed by its provider outside this total)" if external else ""
    return Estimate(
        f"Secret Manager access{outside}",
        (Line(f"{operations:g} x 10k accesses", operations, catalog.SECRET_ACCESS, free_pool="secret-access"),),
    )


def price_secret_version(props: Mapping[str, Any], usage: Usage) -> Estimate:
    return Estimate(
        "Secret Manager", (Line("1 active version", 1, catalog.SECRET_VERSION, free_pool="secret-versions"),)
    )


def price_kms_key(props: Mapping[str, Any], usage: Usage) -> Estimate:
    """Every key version not destroyed is billed: with rotation, versions accumulate until destroyed."""
    rotation = get(props, "rotationPeriod")
    seconds = float(str(rotation).rstrip("s")) if isinstance(rotation, str) and rotation.rstrip("s").isdigit() else 0
    # Versions alive after a year of rotation (old ones are kept for decrypting old secrets).
    versions = 1 + (365 * 86400 // seconds if seconds else 0)
    operations = number(usage, "operationsPerMonth", 10_000) / 1e4
    return Estimate(
        "Cloud KMS",
        (
            Line(f"{versions:g} key versions", versions, catalog.KMS_KEY_VERSION),
            Line(f"{operations:g} x 10k operations", operations, catalog.KMS_OPERATIONS),
        ),
    )


def price_registry(props: Mapping[str, Any], usage: Usage) -> Estimate:
    gigabytes = number(usage, "storageGb", 2)
    return Estimate(
        "Artifact Registry", (Line(f"{gigabytes:g} GB", gigabytes, catalog.REGISTRY_STORAGE, free_pool="registry-gb"),)
    )


def price_topic(props: Mapping[str, Any], usage: Usage) -> Estimate:
    gigabytes = number(usage, "throughputGbPerMonth", 1)
    return Estimate(
        "Pub/Sub throughput",
        (Line(f"{gigabytes:g} GiB", gigabytes, catalog.PUBSUB_THROUGHPUT, free_pool="pubsub-gib"),),
    )


def price_subscription(props: Mapping[str, Any], usage: Usage) -> Estimate:
    retained = number(usage, "retainedGb", 0)
    if not retained:
        return Estimate("Pub/Sub subscription: throughput billed on its topic")
    return Estimate("Pub/Sub retained messages", (Line(f"{retained:g} GiB", retained, catalog.PUBSUB_RETAINED),))


def price_scheduler_job(props: Mapping[str, Any], usage: Usage) -> Estimate:
    return Estimate("Cloud Scheduler", (Line("1 job", 1, catalog.SCHEDULER_JOB, free_pool="scheduler-jobs"),))


def price_tasks_queue(props: Mapping[str, Any], usage: Usage) -> Estimate:
    operations = number(usage, "operationsPerMonth", 100_000) / 1e6
    return Estimate(
        "Cloud Tasks",
        (Line(f"{operations:g}M operations", operations, catalog.TASKS_OPERATIONS, free_pool="tasks-operations"),),
    )


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return default
    return default


def price_uptime_check(props: Mapping[str, Any], usage: Usage) -> Estimate:
    period = _seconds(known(get(props, "period"), None), 300.0)
    regions = len(known_items(props, "selectedRegions")) or catalog.UPTIME_CHECKER_REGIONS
    executions = regions * SECONDS_PER_MONTH / period / 1000
    return Estimate(
        f"uptime check every {period:g}s from {regions} regions",
        (Line(f"{executions:g}k executions", executions, catalog.UPTIME_EXECUTIONS, free_pool="uptime-executions"),),
    )


def price_alert_policy(props: Mapping[str, Any], usage: Usage) -> Estimate:
    conditions = max(len(known_items(props, "conditions")), 1)
    series = number(usage, "timeSeriesPerPeriod", 1)
    # Conditions execute every 30 s-60 s; one per minute is the conservative middle.
    returned = conditions * series * (SECONDS_PER_MONTH / 60) / 1e6
    return Estimate(
        "alerting",
        (
            Line(f"{conditions} conditions", conditions, catalog.ALERT_CONDITION),
            Line(f"{returned:g}M time series", returned, catalog.ALERT_TIME_SERIES),
        ),
    )


def price_bucket(props: Mapping[str, Any], usage: Usage) -> Estimate:
    location = str(known(get(props, "location"), "US")).upper()
    storage_class = known(get(props, "storageClass"), "STANDARD")
    regional, multi = catalog.STORAGE_GB_MONTH.get(storage_class, catalog.STORAGE_GB_MONTH["STANDARD"])
    multi_region = location in catalog.STORAGE_MULTI_REGIONS
    factor, label = (1.0, "") if multi_region else region_factor("storage", location.lower())
    gigabytes = number(usage, "storageGb", 1)
    line = Line(
        f"{gigabytes:g} GB {storage_class} {location}", gigabytes, multi if multi_region else regional, factor, label
    )
    return Estimate("Cloud Storage", (line,))
