"""The vocabulary of usage assumptions (``grid:usage``): validated by the stack config, read by the price
catalog (policies/pricing.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

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
}
