"""Environment presets: what ``grid:environment`` gives a stack before its own file overrides anything.

The numbers follow docs/design.md §2. dev aims at the free tier (shared-core SQL, no Redis, scale to zero, no NAT);
staging is small and dedicated; prod is highly available (REGIONAL SQL with a cross-region replica, STANDARD_HA
Redis with AUTH and TLS, warm api/auth instances, a GPU for the ai service).
"""

from __future__ import annotations

from typing import Any

ENVIRONMENTS = ("dev", "staging", "prod")

# A nearby region for prod's cross-region read replica (same continent, different failure domain).
REPLICA_REGION = {
    "us-central1": "us-east1",
    "us-east1": "us-central1",
    "us-east4": "us-central1",
    "us-west1": "us-west2",
    "europe-west1": "europe-west4",
    "europe-west4": "europe-west1",
    "europe-west2": "europe-west1",
    "europe-west3": "europe-west4",
    "asia-northeast1": "asia-northeast2",
    "asia-northeast3": "asia-northeast1",
    "asia-southeast1": "asia-east1",
    "australia-southeast1": "australia-southeast2",
}


# The shortest app-metrics export interval, in whole minutes, at which dev's and staging's three exporting services
# stay inside Cloud Monitoring's 150 MiB free allotment under the plan's default usage (grid plan prices it; prod
# keeps the services' 60 s: its budget has room for the ingestion it pays for).
METRICS_INTERVAL_WITHIN_FREE_TIER = 120


def _small_service(max_instances: int, memory: str = "512Mi") -> dict[str, Any]:
    return {"cpu": 1, "memory": memory, "minInstances": 0, "maxInstances": max_instances, "cpuIdle": True}


_PRESETS: dict[str, dict[str, Any]] = {
    "dev": {
        "network": {"nat": {"enabled": False}, "flowLogs": {"sampling": 0.1, "interval": "INTERVAL_10_MIN"}},
        "database": {
            "tier": "db-f1-micro",
            "edition": "ENTERPRISE",
            "availability": "zonal",
            "diskSizeGb": 10,
            "diskAutoresizeLimitGb": 20,
            "backups": {"enabled": True, "retainedBackups": 7, "pitr": False, "logRetentionDays": 1},
            "deletionProtection": False,
        },
        "cache": {"tier": "none"},
        "registry": {"keepRecent": 5, "deleteUntaggedAfterDays": 7},
        "functions": {"korean-nlp": {"maxInstances": 3}, "ml-analytics": {"maxInstances": 2}},
        "gateway": {"type": "apiGateway"},
        # Each alerting condition is billed; dev keeps the ones docs/design.md §2 asks for: uptime, errors, budget.
        "monitoring": {
            "latencyAlerts": False,
            "dataAlerts": False,
            "dashboards": False,
            "budget": {"monthlyUsd": 18, "capAtBudget": True},
            # App metrics are billed by bytes past 150 MiB a month. Steady traffic keeps one instance of each of
            # auth, api and ai up all month, exporting 24 distribution + 8 scalar series: every 60 s that is
            # 249 MiB (99 MiB over: $25 a month, more than dev's whole budget); every 120 s, 124 MiB, inside it.
            "metricsExportIntervalSeconds": METRICS_INTERVAL_WITHIN_FREE_TIER,
        },
        "services": {
            "auth": _small_service(2),
            "api": _small_service(3),
            "ai": _small_service(2, memory="2Gi"),
        },
    },
    "staging": {
        "network": {"nat": {"enabled": False}, "flowLogs": {"sampling": 0.25}},
        "database": {
            "tier": "db-custom-1-3840",
            "edition": "ENTERPRISE",
            "availability": "zonal",
            "diskSizeGb": 20,
            "diskAutoresizeLimitGb": 50,
            "backups": {"enabled": True, "retainedBackups": 14, "pitr": True, "logRetentionDays": 7},
            "exports": {"enabled": True, "retentionDays": 14, "lockRetention": False},
            "deletionProtection": False,
        },
        "cache": {"tier": "BASIC", "memorySizeGb": 1, "authEnabled": True, "transitEncryption": True},
        "registry": {"keepRecent": 10, "deleteUntaggedAfterDays": 14},
        "functions": {"korean-nlp": {"maxInstances": 5}, "ml-analytics": {"maxInstances": 3}},
        "rollout": {"strategy": "tagged"},
        "gateway": {"type": "loadBalancer", "cdn": False, "armor": {"enabled": True, "rateLimitPerMinute": 600}},
        "monitoring": {
            "latencyAlerts": True,
            "dashboards": True,
            "budget": {"monthlyUsd": 175},
            # As dev: three services up all month at 60 s would be $25 over staging's budget; its dashboards chart
            # the app metrics at 2-minute resolution instead.
            "metricsExportIntervalSeconds": METRICS_INTERVAL_WITHIN_FREE_TIER,
        },
        "services": {
            "auth": _small_service(5),
            "api": _small_service(10),
            "ai": _small_service(3, memory="2Gi"),
        },
    },
    "prod": {
        "network": {
            "nat": {"enabled": True, "log": "ERRORS_ONLY"},
            "egressTraffic": "ALL_TRAFFIC",
            "flowLogs": {"sampling": 0.5},
        },
        "database": {
            "tier": "db-custom-2-7680",
            "edition": "ENTERPRISE",
            "availability": "regional",
            "diskSizeGb": 50,
            "diskAutoresizeLimitGb": 500,
            "backups": {"enabled": True, "retainedBackups": 30, "pitr": True, "logRetentionDays": 7},
            "exports": {"enabled": True, "retentionDays": 90, "lockRetention": True},
            "deletionProtection": True,
            "maxConnections": 200,
        },
        "cache": {
            "tier": "STANDARD_HA",
            "memorySizeGb": 2,
            "authEnabled": True,
            "transitEncryption": True,
            "persistence": True,
            "snapshotPeriod": "TWELVE_HOURS",
        },
        "registry": {"keepRecent": 20, "deleteUntaggedAfterDays": 30},
        "functions": {"korean-nlp": {"maxInstances": 20}, "ml-analytics": {"maxInstances": 10}},
        "rollout": {"strategy": "tagged"},
        "gateway": {
            "type": "loadBalancer",
            "cdn": True,
            "armor": {"enabled": True, "rateLimitPerMinute": 1200, "adaptiveProtection": True},
        },
        "monitoring": {
            "latencyAlerts": True,
            "paging": True,
            "dashboards": True,
            "slos": True,
            "uptimePeriodSeconds": 60,
            "budget": {"monthlyUsd": 1500},
        },
        "services": {
            "auth": {"cpu": 1, "memory": "512Mi", "minInstances": 2, "maxInstances": 20, "cpuIdle": True},
            "api": {"cpu": 1, "memory": "1Gi", "minInstances": 2, "maxInstances": 50, "cpuIdle": True},
            "ai": {
                "cpu": 4,
                "memory": "16Gi",
                "gpu": 1,
                "minInstances": 0,
                "maxInstances": 3,
                "cpuIdle": False,
                "concurrency": 8,
                "timeoutSeconds": 300,
            },
        },
    },
}


def preset(environment: str, region: str) -> dict[str, Any]:
    """A fresh copy of the environment's defaults (camelCase, as a stack file would spell them)."""
    import copy

    document = copy.deepcopy(_PRESETS[environment])
    document["environment"] = environment
    if environment == "prod":
        document["database"]["replicaRegion"] = REPLICA_REGION.get(region)
    return document
