"""Google Cloud list prices used by the cost rules and `grid plan`'s cost table.

Every number is a USD list price for us-central1 (or global, for global services) as published on
the Google Cloud pricing page named in its `source`, in the month given by `as_of`. The catalog
was compiled from those pages without live access, so each table says how sure it is: `note`
marks prices to re-check before relying on them to the cent. Regional differences are modelled
as documented multipliers (REGION_FACTORS), not per-region price lists.

To update a price: change the number, its `as_of`, and the expected value in
tests/policies/test_pricing.py (the tests recompute bills by hand from these figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

AS_OF: Final = "2025-06"
HOURS_PER_MONTH: Final = 730.0  # Google's own monthly convention (8,760 h / 12)
SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    as_of: str = AS_OF
    note: str = ""


SQL_URL: Final = "https://cloud.google.com/sql/pricing"
REDIS_URL: Final = "https://cloud.google.com/memorystore/docs/redis/pricing"
RUN_URL: Final = "https://cloud.google.com/run/pricing"
COMPUTE_URL: Final = "https://cloud.google.com/compute/vm-instance-pricing"
VPC_URL: Final = "https://cloud.google.com/vpc/network-pricing"
NAT_URL: Final = "https://cloud.google.com/nat/pricing"
LB_URL: Final = "https://cloud.google.com/vpc/network-pricing#lb"
IP_URL: Final = "https://cloud.google.com/vpc/network-pricing#ipaddress"
ARMOR_URL: Final = "https://cloud.google.com/armor/pricing"
CDN_URL: Final = "https://cloud.google.com/cdn/pricing"
API_GATEWAY_URL: Final = "https://cloud.google.com/api-gateway/pricing"
SECRETS_URL: Final = "https://cloud.google.com/secret-manager/pricing"
REGISTRY_URL: Final = "https://cloud.google.com/artifact-registry/pricing"
PUBSUB_URL: Final = "https://cloud.google.com/pubsub/pricing"
SCHEDULER_URL: Final = "https://cloud.google.com/scheduler/pricing"
TASKS_URL: Final = "https://cloud.google.com/tasks/pricing"
MONITORING_URL: Final = "https://cloud.google.com/stackdriver/pricing"
STORAGE_URL: Final = "https://cloud.google.com/storage/pricing"

# --- Cloud SQL for PostgreSQL -------------------------------------------------------------
# HA (availabilityType REGIONAL) doubles compute and storage. Enterprise Plus figures are the
# least certain in this file.
SQL_COMPUTE: Final = {
    "ENTERPRISE": {
        "vcpu": Price(0.0413, "vCPU-hour", SQL_URL),
        "memory": Price(0.0070, "GB-hour", SQL_URL),
    },
    "ENTERPRISE_PLUS": {
        "vcpu": Price(0.0537, "vCPU-hour", SQL_URL, note="Enterprise Plus rate: re-check"),
        "memory": Price(0.0091, "GB-hour", SQL_URL, note="Enterprise Plus rate: re-check"),
    },
}
SQL_SHARED_CORE: Final = {
    "db-f1-micro": Price(0.0105, "instance-hour", SQL_URL),
    "db-g1-small": Price(0.0350, "instance-hour", SQL_URL),
}
SQL_STORAGE: Final = {
    "PD_SSD": Price(0.17, "GB-month", SQL_URL),
    "PD_HDD": Price(0.09, "GB-month", SQL_URL),
}
SQL_BACKUP: Final = Price(0.08, "GB-month", SQL_URL)
SQL_HA_MULTIPLIER: Final = 2.0

# --- Memorystore for Redis: price per provisioned GB-hour by tier and capacity band ------------
# Bands: M1 1-4 GB, M2 5-10, M3 11-35, M4 36-100, M5 >100. STANDARD_HA includes its replica.
REDIS_BANDS: Final = ((4, "M1"), (10, "M2"), (35, "M3"), (100, "M4"), (float("inf"), "M5"))
REDIS_GB_HOUR: Final = {
    "BASIC": {
        "M1": Price(0.049, "GB-hour", REDIS_URL),
        "M2": Price(0.027, "GB-hour", REDIS_URL),
        "M3": Price(0.023, "GB-hour", REDIS_URL),
        "M4": Price(0.019, "GB-hour", REDIS_URL),
        "M5": Price(0.016, "GB-hour", REDIS_URL),
    },
    "STANDARD_HA": {
        "M1": Price(0.064, "GB-hour", REDIS_URL),
        "M2": Price(0.054, "GB-hour", REDIS_URL),
        "M3": Price(0.046, "GB-hour", REDIS_URL),
        "M4": Price(0.037, "GB-hour", REDIS_URL),
        "M5": Price(0.030, "GB-hour", REDIS_URL, note="M5 standard rate: re-check"),
    },
}

# --- Cloud Run (services, jobs) and Cloud Run functions (Cloud Functions gen2) -------------------
# Tier 1 regions. Request-based billing charges CPU/memory only while serving (plus idle min
# instances at a reduced CPU rate); instance-based billing (cpuIdle=false, GPUs, jobs) charges the
# whole instance lifetime at a lower rate and no per-request fee.
RUN_REQUEST_BASED: Final = {
    "vcpu": Price(0.000024, "vCPU-second", RUN_URL),
    "memory": Price(0.0000025, "GiB-second", RUN_URL),
    "requests": Price(0.40, "million requests", RUN_URL),
    "idle_vcpu": Price(0.0000025, "vCPU-second", RUN_URL, note="idle min-instance rate"),
    "idle_memory": Price(0.0000025, "GiB-second", RUN_URL, note="idle min-instance rate"),
}
RUN_INSTANCE_BASED: Final = {
    "vcpu": Price(0.000018, "vCPU-second", RUN_URL),
    "memory": Price(0.000002, "GiB-second", RUN_URL),
}
RUN_GPU: Final = {
    "nvidia-l4": Price(0.0001867, "GPU-second", RUN_URL, note="with zonal redundancy"),
    "nvidia-l4-no-zonal-redundancy": Price(0.0001333, "GPU-second", RUN_URL, note="re-check"),
}

# --- Networking -------------------------------------------------------------------------------
VPC_CONNECTOR_INSTANCE_HOUR: Final = {
    "e2-micro": Price(0.008376, "instance-hour", COMPUTE_URL),
    "f1-micro": Price(0.0076, "instance-hour", COMPUTE_URL),
    "e2-standard-4": Price(0.134012, "instance-hour", COMPUTE_URL),
}
NAT_GATEWAY_PER_VM_HOUR: Final = Price(0.0014, "VM-hour", NAT_URL, note="up to 32 VMs, then a flat hourly rate")
NAT_GATEWAY_MAX_HOUR: Final = Price(0.044, "gateway-hour", NAT_URL)
NAT_DATA: Final = Price(0.045, "GB processed", NAT_URL)
FORWARDING_RULE_HOUR: Final = Price(0.025, "rule-hour", LB_URL, note="first 5 rules per project; $0.01 after")
LB_DATA: Final = Price(0.008, "GB processed", LB_URL)
UNUSED_STATIC_IP_HOUR: Final = Price(0.01, "address-hour", IP_URL)

CLOUD_ARMOR: Final = {
    "policy": Price(5.0, "policy-month", ARMOR_URL),
    "rule": Price(1.0, "rule-month", ARMOR_URL),
    "requests": Price(0.75, "million requests", ARMOR_URL),
}
CLOUD_ARMOR_TIER_MONTH: Final = {
    "CA_STANDARD": Price(0.0, "month", ARMOR_URL),
    "CA_ENTERPRISE_PAYGO": Price(200.0, "month", ARMOR_URL),
    "CA_ENTERPRISE_ANNUAL": Price(3000.0, "month", ARMOR_URL, note="annual commitment billed monthly"),
}
CDN: Final = {
    "egress": Price(0.08, "GB cache egress", CDN_URL, note="North America, first 10 TiB"),
    "fill": Price(0.01, "GB cache fill", CDN_URL),
    "lookups": Price(0.0075, "10k lookups", CDN_URL),
}

# --- API front doors ---------------------------------------------------------------------------
API_GATEWAY_CALLS: Final = Price(3.00, "million calls", API_GATEWAY_URL)

# --- Platform services -------------------------------------------------------------------------
SECRET_VERSION: Final = Price(0.06, "active version-month", SECRETS_URL)
KMS_URL: Final = "https://cloud.google.com/kms/pricing"
KMS_KEY_VERSION: Final = Price(0.06, "active software key version-month", KMS_URL)
KMS_OPERATIONS: Final = Price(0.03, "10k cryptographic operations", KMS_URL)
SECRET_ACCESS: Final = Price(0.03, "10k access operations", SECRETS_URL)
REGISTRY_STORAGE: Final = Price(0.10, "GB-month", REGISTRY_URL)
PUBSUB_THROUGHPUT: Final = Price(40.0 / 1024, "GiB", PUBSUB_URL, note="$40 per TiB")
PUBSUB_RETAINED: Final = Price(0.27, "GiB-month", PUBSUB_URL)
SCHEDULER_JOB: Final = Price(0.10, "job-month", SCHEDULER_URL)
TASKS_OPERATIONS: Final = Price(0.40, "million operations", TASKS_URL)
UPTIME_EXECUTIONS: Final = Price(0.30, "1k executions", MONITORING_URL)
ALERT_CONDITION: Final = Price(
    1.50,
    "condition-month",
    MONITORING_URL,
    note="announced alerting price; Google's docs say charging starts 'no sooner than' a date that has moved "
    "(Jan 2025, then Apr 2025): confirm it is in effect",
)
ALERT_TIME_SERIES: Final = Price(0.35, "million time series returned", MONITORING_URL)
# Custom (user-defined) metrics are billed by bytes ingested; Google Cloud's own metrics are free. First tier
# (150-100,000 MiB a month); the first 150 MiB per billing account are free (FREE_ALLOWANCES).
MONITORING_DATA: Final = Price(
    0.2580,
    "MiB",
    MONITORING_URL,
    as_of="2026-11",
    note="$0.1510/MiB past 100,000 MiB, $0.0610/MiB past 250,000 MiB: no Grid stack comes near",
)
# Bytes Monitoring counts for one ingested point, by value type (MONITORING_URL's pricing notes): a BOOL, INT64 or
# DOUBLE point is 8 bytes, a DISTRIBUTION point 80. Labels and the monitored resource are not counted. Re-check:
# the copy of the page read on 2026-11-30 showed the price table but not its notes (8 bytes is corroborated by
# others' worked estimates; 80 is from the notes as previously published).
MONITORING_POINT_BYTES: Final = {"scalar": 8, "distribution": 80}
UPTIME_CHECKER_REGIONS: Final = 6  # all checker locations are used when selectedRegions is empty

# Standard storage class prices; multi-region for US/EU/ASIA locations.
STORAGE_GB_MONTH: Final = {
    "STANDARD": (Price(0.020, "GB-month", STORAGE_URL), Price(0.026, "GB-month", STORAGE_URL)),
    "NEARLINE": (Price(0.010, "GB-month", STORAGE_URL), Price(0.015, "GB-month", STORAGE_URL)),
    "COLDLINE": (Price(0.004, "GB-month", STORAGE_URL), Price(0.007, "GB-month", STORAGE_URL)),
    "ARCHIVE": (Price(0.0012, "GB-month", STORAGE_URL), Price(0.0024, "GB-month", STORAGE_URL)),
}
STORAGE_MULTI_REGIONS: Final = frozenset({"US", "EU", "ASIA"})

# --- Regions ------------------------------------------------------------------------------------
# Multipliers over us-central1 for regional services. "compute" covers Cloud SQL, Memorystore
# and VM-based connectors (approximate: the three differ by a point or two per region). Cloud Run
# has two price tiers. Regions not listed are priced as us-central1 and the basis says so.
REGION_FACTORS: Final = {
    "compute": {
        "us-central1": 1.0,
        "us-east1": 1.0,
        "us-west1": 1.0,
        "us-east4": 1.127,
        "us-west2": 1.20,
        "europe-west1": 1.10,
        "europe-west4": 1.10,
        "europe-west2": 1.20,
        "europe-west3": 1.20,
        "asia-northeast1": 1.29,
        "asia-northeast3": 1.29,
        "asia-southeast1": 1.23,
        "australia-southeast1": 1.36,
    },
    "run": {
        **{
            region: 1.0
            for region in (
                "us-central1",
                "us-east1",
                "us-east4",
                "us-east5",
                "us-south1",
                "us-west1",
                "europe-west1",
                "europe-west4",
                "europe-west8",
                "europe-west9",
                "europe-north1",
                "europe-southwest1",
                "asia-east1",
                "asia-northeast1",
                "asia-northeast2",
                "me-west1",
            )
        },
        **{
            region: 1.4
            for region in (
                "asia-northeast3",
                "asia-east2",
                "asia-south1",
                "asia-southeast1",
                "asia-southeast2",
                "australia-southeast1",
                "europe-west2",
                "europe-west3",
                "europe-west6",
                "europe-central2",
                "northamerica-northeast1",
                "southamerica-east1",
                "us-west2",
                "us-west3",
                "us-west4",
            )
        },
    },
    "storage": {
        "us-central1": 1.0,
        "us-east1": 1.0,
        "us-west1": 1.0,
        "europe-west1": 1.0,
        "europe-west4": 1.0,
        "europe-west2": 1.15,
        "europe-west3": 1.15,
        "asia-northeast1": 1.15,
        "asia-northeast3": 1.15,
        "asia-southeast1": 1.0,
    },
}
DEFAULT_REGION: Final = "us-central1"

# --- Account-level free tiers -------------------------------------------------------------------
# Applied once per plan (per billing account or project), never per resource: `grid plan` lets the
# first resources that use a pool consume it.
FREE_ALLOWANCES: Final = {
    "run-request-vcpu-seconds": (180_000.0, RUN_URL),
    "run-request-gib-seconds": (360_000.0, RUN_URL),
    "run-requests": (2.0, RUN_URL),  # millions
    "run-instance-vcpu-seconds": (240_000.0, RUN_URL),
    "run-instance-gib-seconds": (450_000.0, RUN_URL),
    "secret-versions": (6.0, SECRETS_URL),
    "secret-access": (1.0, SECRETS_URL),  # 10k operations
    "registry-gb": (0.5, REGISTRY_URL),
    "pubsub-gib": (10.0, PUBSUB_URL),
    "scheduler-jobs": (3.0, SCHEDULER_URL),
    "tasks-operations": (1.0, TASKS_URL),  # millions
    "uptime-executions": (1_000.0, MONITORING_URL),  # thousands, per project
    "monitoring-mib": (150.0, MONITORING_URL),  # chargeable metric ingestion, per billing account
    "api-gateway-calls": (2.0, API_GATEWAY_URL),  # millions
}
