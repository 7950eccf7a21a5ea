"""Memorystore for Redis: authentication, encryption in transit, private connectivity."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import REDIS_INSTANCE
from policies.props import get, is_known
from policies.rule import Meta, Subject, checkov, google_doc, resource_policy

_TYPES = (REDIS_INSTANCE,)


def _auth_enabled(r: Subject) -> Iterator[str]:
    if get(r.props, "authEnabled", False) is False:
        yield "authEnabled is not true: any client on the network can run commands"


def _transit_encryption(r: Subject) -> Iterator[str]:
    mode = get(r.props, "transitEncryptionMode", "DISABLED")
    if is_known(mode) and mode != "SERVER_AUTHENTICATION":
        yield f"transitEncryptionMode is {mode}: traffic and the AUTH string travel in clear text"


def _private_connectivity(r: Subject) -> Iterator[str]:
    mode = get(r.props, "connectMode", "DIRECT_PEERING")
    if is_known(mode) and mode != "PRIVATE_SERVICE_ACCESS":
        yield f"connectMode is {mode}; use PRIVATE_SERVICE_ACCESS through the VPC's private services range"
    if get(r.props, "authorizedNetwork") is None:
        yield "authorizedNetwork is not set, so the instance lands on the project's default network"


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="redis-auth-enabled",
            description="Memorystore for Redis instances must require AUTH.",
            remediation="Set authEnabled=true and give clients the AUTH string through Secret Manager "
            "(changing it replaces the instance).",
            sources=(
                checkov("CKV_GCP_95"),
                google_doc("https://cloud.google.com/memorystore/docs/redis/about-redis-auth", "redis-auth"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _auth_enabled,
    ),
    resource_policy(
        Meta(
            name="redis-transit-encryption",
            description="Memorystore for Redis instances must encrypt traffic in transit (TLS).",
            remediation="Set transitEncryptionMode=SERVER_AUTHENTICATION and trust the instance's server CA "
            "in clients (changing it replaces the instance).",
            sources=(
                checkov("CKV_GCP_97"),
                google_doc(
                    "https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption",
                    "in-transit-encryption",
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _transit_encryption,
    ),
    resource_policy(
        Meta(
            name="redis-private-connectivity",
            description="Memorystore for Redis must be reached through private services access on Grid's VPC.",
            remediation="Set connectMode=PRIVATE_SERVICE_ACCESS and authorizedNetwork to the VPC id.",
            sources=(google_doc("https://cloud.google.com/memorystore/docs/redis/networking", "redis-networking"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        _TYPES,
        _private_connectivity,
    ),
]
