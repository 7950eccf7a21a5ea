"""Google Cloud's own limits, which Pulumi mocks cannot see.

Each table cites the Google documentation it was taken from. The config models use these to reject a stack
file before anything is planned, so a typo never becomes a failed `pulumi up` twenty minutes in.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

# https://cloud.google.com/about/locations (regions with Cloud Run, Cloud SQL and Memorystore), 2026-11.
REGIONS: frozenset[str] = frozenset(
    {
        "africa-south1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-south2",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
        "australia-southeast2",
        "europe-central2",
        "europe-north1",
        "europe-north2",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west10",
        "europe-west12",
        "me-central1",
        "me-central2",
        "me-west1",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "northamerica-south1",
        "southamerica-east1",
        "southamerica-west1",
        "us-central1",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
    }
)

# Regions where any project can run Cloud Run services on an NVIDIA L4 ("Supported regions" of
# https://cloud.google.com/run/docs/configuring/services/gpu, 2026-11). asia-south1 is listed too, but "by
# invitation only": a new project gets neither the GPU nor its quota there, so the config refuses it.
GPU_REGIONS: frozenset[str] = frozenset({"us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1"})

# Resource-name rules. Each: (regex, max length, doc).
NAME_RULES: dict[str, tuple[str, int, str]] = {
    # https://cloud.google.com/iam/docs/service-accounts-create#creating
    "service_account_id": (r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$", 30, "6-30 chars, lowercase letters, digits, -"),
    # https://cloud.google.com/sql/docs/postgres/create-instance (instance ID, plus Pulumi's 8-char suffix)
    "sql_instance": (r"^[a-z][-a-z0-9]*[a-z0-9]$", 98, "lowercase letters, digits, -; start with a letter"),
    # https://cloud.google.com/memorystore/docs/redis/create-manage-instances
    "redis_instance": (r"^[a-z][-a-z0-9]*[a-z0-9]$", 40, "1-40 chars, lowercase letters, digits, -"),
    # https://cloud.google.com/vpc/docs/serverless-vpc-access (connector name)
    "vpc_connector": (r"^[a-z][-a-z0-9]*[a-z0-9]$", 25, "1-25 chars, lowercase letters, digits, -"),
    # https://cloud.google.com/compute/docs/naming-resources
    "compute": (r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$", 63, "1-63 chars, RFC 1035"),
    # https://cloud.google.com/run/docs/deploying#service (service name)
    "cloud_run_service": (r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$", 49, "1-49 chars, lowercase letters, digits, -"),
    # https://cloud.google.com/secret-manager/docs/creating-and-accessing-secrets
    "secret_id": (r"^[A-Za-z0-9_-]+$", 255, "letters, digits, _ and -"),
    # https://cloud.google.com/artifact-registry/docs/repositories/create-repos
    "artifact_repository": (r"^[a-z](?:[-a-z0-9]*[a-z0-9])?$", 63, "lowercase letters, digits, -"),
    # https://cloud.google.com/sql/docs/postgres/create-manage-databases (Postgres identifiers)
    "postgres_identifier": (r"^[a-z_][a-z0-9_]*$", 63, "lowercase letters, digits, _"),
    # https://cloud.google.com/functions/docs/deploying (a letter, then up to 62 letters, digits, - or _, ending
    # with a letter or digit)
    "function": (
        r"^[A-Za-z](?:[-A-Za-z0-9_]*[A-Za-z0-9])?$",
        63,
        "1-63 chars: a letter first, letters, digits, - and _, a letter or digit last",
    ),
    # https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics#Topic (and .subscriptions): a letter
    # first, not "goog", 3-255 chars
    "pubsub": (
        r"^(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,}$",
        255,
        "3-255 chars: a letter first (not goog), then letters, digits, - _ . ~ + %",
    ),
    # https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job (JOB_ID in name)
    "scheduler_job": (r"^[A-Za-z0-9_-]+$", 500, "1-500 chars, letters, digits, - and _"),
}

# Pulumi auto-names physical resources as "<logical>-<7 hex>".
AUTONAME_SUFFIX_LEN = 8


def name_problem(kind: str, value: str, *, autonamed: bool = False) -> str | None:
    """Return why ``value`` is not a valid ``kind`` name, or None when it is."""
    pattern, max_len, rule = NAME_RULES[kind]
    length = len(value) + (AUTONAME_SUFFIX_LEN if autonamed else 0)
    if length > max_len:
        extra = f" with Pulumi's {AUTONAME_SUFFIX_LEN}-char suffix" if autonamed else ""
        return f"'{value}' is {length} chars{extra}, over the limit of {max_len}"
    if not re.match(pattern, value):
        return f"'{value}' does not match {rule}"
    return None


# --- Numeric ranges Google refuses at apply time -----------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """An inclusive range Google documents for a numeric field (``high`` None: no upper bound)."""

    low: float
    high: float | None = None

    def problem(self, what: str, value: float) -> str | None:
        """Why ``value`` of ``what`` is out of range (one line, the range included), or None."""
        if self.low <= value and (self.high is None or value <= self.high):
            return None
        allowed = f"{self.low:g} to {self.high:g}" if self.high is not None else f"at least {self.low:g}"
        return f"{what} is {value:g}, outside Google's allowed {allowed}"


def check_ranges(owner: str, fields: Iterable[tuple[str, float, Range]]) -> None:
    """Refuse, from an args type's ``__post_init__`` (before anything registers), a field outside the range
    Google documents for it, which Google would refuse only at apply time."""
    for what, value, allowed in fields:
        if problem := allowed.problem(what, value):
            raise ValueError(f"{owner}: {problem}: set {what} within that range")


# --- Cloud SQL for PostgreSQL ------------------------------------------------------------------------------
# https://cloud.google.com/sql/docs/postgres/instance-settings and /editions-intro, 2026-11.
SHARED_CORE_TIERS = frozenset({"db-f1-micro", "db-g1-small"})
PERF_OPTIMIZED_VCPUS = frozenset({2, 4, 8, 16, 32, 48, 64, 80, 96, 128})
_CUSTOM_TIER = re.compile(r"^db-custom-(\d+)-(\d+)$")
_PERF_TIER = re.compile(r"^db-perf-optimized-N-(\d+)$")


@dataclass(frozen=True)
class SqlTier:
    """A parsed Cloud SQL machine tier."""

    name: str
    vcpus: float
    memory_gb: float
    shared_core: bool
    edition: str  # the only edition the tier exists in


def parse_sql_tier(tier: str) -> SqlTier:
    """Parse and validate a Cloud SQL tier name; raises ValueError with a fix-it message."""
    if tier == "db-f1-micro":
        return SqlTier(tier, 0.2, 0.614, True, "ENTERPRISE")
    if tier == "db-g1-small":
        return SqlTier(tier, 0.5, 1.7, True, "ENTERPRISE")
    if m := _CUSTOM_TIER.match(tier):
        vcpus, memory_mb = int(m.group(1)), int(m.group(2))
        if vcpus != 1 and (vcpus % 2 or not 2 <= vcpus <= 96):
            raise ValueError(f"tier '{tier}': vCPUs must be 1 or an even number from 2 to 96")
        if memory_mb % 256:
            raise ValueError(f"tier '{tier}': memory must be a multiple of 256 MB")
        per_cpu = memory_mb / 1024 / vcpus
        if memory_mb < 3840 or not 0.9 <= per_cpu <= 6.5:
            raise ValueError(
                f"tier '{tier}': memory must be at least 3840 MB and 0.9-6.5 GB per vCPU "
                f"(e.g. db-custom-{vcpus}-{max(3840, vcpus * 3840)})"
            )
        return SqlTier(tier, vcpus, memory_mb / 1024, False, "ENTERPRISE")
    if m := _PERF_TIER.match(tier):
        vcpus = int(m.group(1))
        if vcpus not in PERF_OPTIMIZED_VCPUS:
            raise ValueError(f"tier '{tier}': vCPUs must be one of {', '.join(map(str, sorted(PERF_OPTIMIZED_VCPUS)))}")
        return SqlTier(tier, vcpus, vcpus * 8.0, False, "ENTERPRISE_PLUS")
    raise ValueError(
        f"unknown Cloud SQL tier '{tier}': use db-f1-micro, db-g1-small, db-custom-<vCPUs>-<MB> "
        "(Enterprise) or db-perf-optimized-N-<vCPUs> (Enterprise Plus)"
    )


# --- Cloud Run ---------------------------------------------------------------------------------------------
# https://cloud.google.com/run/docs/configuring/services/cpu and /memory-limits, 2026-11:
# CPUs -> (minimum memory MiB, maximum memory MiB).
CLOUD_RUN_CPU_MEMORY: dict[float, tuple[int, int]] = {
    1: (128, 4096),
    2: (128, 8192),
    4: (2048, 16384),
    6: (4096, 24576),
    8: (4096, 32768),
}
_MEMORY = re.compile(r"^(\d+)(Mi|Gi)$")

# A Cloud Run request, a WebSocket stream included, ends at the service's request timeout: at most 60 minutes
# (https://cloud.google.com/run/docs/configuring/request-timeout, https://cloud.google.com/run/docs/triggering/websockets).
CLOUD_RUN_MAX_TIMEOUT_SECONDS = 3600
# Less than one vCPU is for the first-generation execution environment only, with concurrency 1 and request-based
# billing (https://cloud.google.com/run/docs/configuring/cpu); Grid's services run in the second generation.
SERVICE_FRACTIONAL_CPU = (
    "is below 1: Cloud Run gives a service a fraction of a vCPU only in the first-generation execution environment, "
    "with concurrency 1, and Grid's services run in the second: use cpu 1 or more"
)
# A Cloud Run job's task: its timeout "up to 168 hours (7 days)"
# (https://cloud.google.com/run/docs/configuring/task-timeout) and its retries "an integer from 0 to 10"
# (https://cloud.google.com/run/docs/configuring/max-retries).
CLOUD_RUN_TASK_TIMEOUT_SECONDS = Range(1, 168 * 3600)
CLOUD_RUN_TASK_MAX_RETRIES = Range(0, 10)
# A Cloud Functions (gen2) function's timeout: "60 minutes (3600 seconds) for HTTP functions and 9 minutes (540
# seconds) for event-driven functions" (https://cloud.google.com/functions/docs/configuring/timeout).
FUNCTION_MAX_TIMEOUT_SECONDS = 3600
FUNCTION_EVENT_TIMEOUT_SECONDS = Range(1, 540)
# A function serving more than one request at a time "must have 1 or more vCPU"
# (https://cloud.google.com/functions/docs/configuring/concurrency), and without availableCpu its vCPU follows its
# memory: below 2 GiB that is less than one (512 MiB: .333; https://cloud.google.com/functions/docs/configuring/memory).
FUNCTION_ONE_VCPU_MEMORY_MIB = 2048


def memory_mib(value: str) -> int:
    """'512Mi' -> 512, '4Gi' -> 4096; raises ValueError on other spellings."""
    m = _MEMORY.match(value)
    if not m:
        raise ValueError(f"memory '{value}' must be written like 512Mi or 4Gi")
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def cloud_run_resources_problem(cpu: float, memory: str, gpu: int) -> str | None:
    """Return why a Cloud Run CPU/memory/GPU combination is invalid, or None."""
    mib = memory_mib(memory)
    if cpu < 1:
        # https://cloud.google.com/run/docs/configuring/cpu: "A minimum of 0.5 vCPU is needed to set a memory limit
        # greater than 512MiB. A minimum of 1 vCPU is needed to set a memory limit greater than 1GiB."
        if not 0.08 <= cpu < 1:
            return f"cpu {cpu} is below Cloud Run's minimum of 0.08"
        most = 1024 if cpu >= 0.5 else 512
        if mib > most:
            return f"cpu {cpu} (fractional) allows at most {most}Mi memory, got {memory}: use cpu 1 or more"
    elif cpu not in CLOUD_RUN_CPU_MEMORY:
        return f"cpu {cpu} is not allowed: use a fraction below 1 or one of 1, 2, 4, 6, 8"
    else:
        low, high = CLOUD_RUN_CPU_MEMORY[cpu]
        if not low <= mib <= high:
            return f"cpu {cpu:g} needs memory between {low}Mi and {high}Mi, got {memory}"
    if gpu and (cpu < 4 or mib < 16384):
        return f"a GPU needs at least 4 CPU and 16Gi memory, got cpu {cpu:g} and {memory}"
    return None


# --- API Gateway -------------------------------------------------------------------------------------------
# A backend's ``deadline`` bounds the whole response: "The default is 15 seconds and the maximum is 3,600 seconds"
# (https://cloud.google.com/ruby/docs/reference/google-cloud-api_gateway-v1/latest/Google-Cloud-ApiGateway-V1-Gateway-StreamingMode,
# the API config's backend deadline).
API_GATEWAY_MAX_DEADLINE_SECONDS = 3600


# --- Memorystore for Redis ---------------------------------------------------------------------------------
# https://cloud.google.com/memorystore/docs/redis/redis-tiers and /supported-versions, 2026-11.
REDIS_VERSIONS = frozenset({"REDIS_6_X", "REDIS_7_0", "REDIS_7_2"})
REDIS_MIN_GB = {"BASIC": 1, "STANDARD_HA": 1}
REDIS_MAX_GB = 300
REDIS_EVICTION_POLICIES = frozenset(
    {
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    }
)


# --- Networks ----------------------------------------------------------------------------------------------
# https://cloud.google.com/vpc/docs/subnets#valid-ranges
_VALID_PRIVATE = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/24")
]


def cidr_problem(value: str) -> str | None:
    """Return why ``value`` is not a usable private IPv4 CIDR for a VPC, or None."""
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        return f"'{value}' is not a valid IPv4 CIDR ({exc}); write it like 10.10.0.0/20"
    if net.version != 4:
        return f"'{value}' must be an IPv4 range"
    if not any(net.subnet_of(p) for p in _VALID_PRIVATE):  # type: ignore[arg-type]
        return f"'{value}' is not a private range (use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)"
    return None


def overlapping(ranges: dict[str, str]) -> list[tuple[str, str]]:
    """Pairs of labelled CIDRs that overlap."""
    nets = [(label, ipaddress.ip_network(cidr)) for label, cidr in ranges.items()]
    return [
        (a, b)
        for i, (a, na) in enumerate(nets)
        for b, nb in nets[i + 1 :]
        if na.overlaps(nb)  # type: ignore[arg-type]
    ]


# The connection facts below are stated in the policy pack too (policies/gcp.py): the pack is self-contained, so
# it cannot import them from here; tests/test_structure.py checks that both say the same.
# Cloud SQL for PostgreSQL's default max_connections by the tier's memory (GB, at least -> connections):
# https://cloud.google.com/sql/docs/postgres/quotas#maximum_concurrent_connections
_DEFAULT_MAX_CONNECTIONS = (
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
RESERVED_CONNECTIONS = 3 + 2
# What a workload pools when DB_POOL_MAX_SIZE is not set (app/common/settings.py), and Cloud Run's default
# maximum instances when maxInstanceCount is not set (https://cloud.google.com/run/docs/configuring/max-instances).
APP_DEFAULT_POOL = 10
RUN_DEFAULT_MAX_INSTANCES = 100


def default_max_connections(memory_gb: float) -> int:
    """Cloud SQL's default max_connections for a tier with this much memory."""
    return next(limit for floor, limit in _DEFAULT_MAX_CONNECTIONS if memory_gb >= floor - 1e-9)


# --- Cloud Scheduler ---------------------------------------------------------------------------------------
# RetryConfig.retryCount: "Values greater than 5 and negative values are not allowed"; the backoffs are
# durations to wait and maxDoublings a count of doublings, none of them negative
# (https://cloud.google.com/scheduler/docs/configuring/retry-jobs).
SCHEDULER_RETRY_COUNT = Range(0, 5)
SCHEDULER_BACKOFF_SECONDS = Range(0)
SCHEDULER_MAX_DOUBLINGS = Range(0)
# Job.attemptDeadline for an HTTP target: "The deadline must be in the interval [15 seconds, 30 minutes]"
# (https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job).
SCHEDULER_HTTP_ATTEMPT_DEADLINE_SECONDS = Range(15, 1800)
# Job.description "must not contain more than 500 characters" (same page).
SCHEDULER_DESCRIPTION_MAX_CHARS = 500


def time_zone_problem(value: str) -> str | None:
    """Why Cloud Scheduler would refuse ``value`` as a job's timeZone, or None: it "must be a time zone name from
    the tz database", or "utc" (Job.timeZone, https://cloud.google.com/scheduler/docs/reference/rest/v1/
    projects.locations.jobs#Job). Python's zoneinfo lists the same database's names."""
    if value.lower() == "utc" or value in _tz_names():
        return None
    return f"'{value}' is not a tz database time zone name (e.g. Etc/UTC, Europe/Paris)"


@functools.cache
def _tz_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# --- Cloud Tasks -------------------------------------------------------------------------------------------
# https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#ratelimits: "The maximum
# allowed value is 500" (maxDispatchesPerSecond, above 0) and "5,000" (maxConcurrentDispatches).
TASKS_MAX_DISPATCHES_PER_SECOND = 500
TASKS_MAX_CONCURRENT_DISPATCHES = 5000
# https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#retryconfig: the backoffs are
# durations to wait and maxDoublings a count of doublings, none of them negative.
TASKS_BACKOFF_SECONDS = Range(0)
TASKS_MAX_DOUBLINGS = Range(0)
# StackdriverLoggingConfig.samplingRatio: "any value between 0.0 and 1.0, inclusive"
# (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#stackdriverloggingconfig).
TASKS_LOG_SAMPLING_RATIO = Range(0, 1)
