"""Per-stack inventories: a compact YAML view of a plan (type -> count and key properties) for review diffs.

Like cloud-foundation-fabric's module inventories, a change to what a stack would create shows up as a
readable diff of ``tests/inventories/<stack>.yaml`` instead of hiding in a thousand-line plan.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

# Inputs worth reviewing per type, as dotted paths into the camelCase inputs.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "gcp:sql/databaseInstance:DatabaseInstance": (
        "databaseVersion",
        "region",
        "settings.tier",
        "settings.edition",
        "settings.availabilityType",
        "settings.diskType",
        "settings.diskSize",
        "settings.ipConfiguration.ipv4Enabled",
        "settings.ipConfiguration.sslMode",
        "settings.backupConfiguration.enabled",
        "settings.backupConfiguration.pointInTimeRecoveryEnabled",
        "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
        "deletionProtection",
        "settings.deletionProtectionEnabled",
    ),
    "gcp:redis/instance:Instance": (
        "tier",
        "memorySizeGb",
        "redisVersion",
        "authEnabled",
        "transitEncryptionMode",
        "connectMode",
        "persistenceConfig.persistenceMode",
    ),
    "gcp:compute/subnetwork:Subnetwork": ("ipCidrRange", "privateIpGoogleAccess", "logConfig.flowSampling"),
    "gcp:compute/routerNat:RouterNat": ("natIpAllocateOption", "sourceSubnetworkIpRangesToNat"),
    "gcp:compute/globalAddress:GlobalAddress": ("purpose", "address", "prefixLength"),
    "gcp:vpcaccess/connector:Connector": ("machineType", "minInstances", "maxInstances", "ipCidrRange"),
    "gcp:serviceaccount/account:Account": ("accountId",),
    "gcp:projects/iAMMember:IAMMember": ("role",),
    "gcp:secretmanager/secret:Secret": ("secretId",),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("role", "member"),
    "gcp:artifactregistry/repository:Repository": ("format", "repositoryId", "location"),
    "gcp:cloudrunv2/service:Service": (
        "ingress",
        "deletionProtection",
        "template.serviceAccount",
        "template.scaling.minInstanceCount",
        "template.scaling.maxInstanceCount",
        "template.containers.0.resources.limits",
        "template.containers.0.resources.cpuIdle",
        "template.nodeSelector.accelerator",
    ),
    "gcp:cloudfunctionsv2/function:Function": (
        "buildConfig.runtime",
        "serviceConfig.availableMemory",
        "serviceConfig.maxInstanceCount",
        "serviceConfig.ingressSettings",
    ),
}


def _get(inputs: Any, path: str) -> Any:
    value = inputs
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def inventory(plan_json: dict[str, Any]) -> dict[str, Any]:
    """``{"counts": {type: n}, "resources": {type: {name: {path: value}}}}`` for a plan document."""
    counts: dict[str, int] = defaultdict(int)
    details: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for resource in plan_json["resources"]:
        counts[resource["type"]] += 1
        paths = KEY_PROPERTIES.get(resource["type"])
        if paths:
            entry = {p: v for p in paths if (v := _get(resource["inputs"], p)) is not None}
            if resource["protect"]:
                entry["protect"] = True
            details[resource["type"]][resource["name"]] = entry
    return {
        "stack": plan_json["stack"],
        "environment": plan_json["environment"],
        "counts": dict(sorted(counts.items())),
        "resources": {t: dict(sorted(v.items())) for t, v in sorted(details.items())},
    }
