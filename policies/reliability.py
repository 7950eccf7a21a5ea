"""Reliability rules for production: no single zone of failure, enough backups, warm front doors.

Mandatory in prod; the dev and staging config files switch off what those environments do not
need (see policies/config/).
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import REDIS_INSTANCE, RUN_SERVICE, SQL_INSTANCE, service_role
from policies.props import as_number, get, is_known
from policies.rule import Meta, Subject, google_doc, resource_policy
from policies.security.sql import is_replica


def _sql_regional(r: Subject) -> Iterator[str]:
    availability = get(r.props, "settings.availabilityType", "ZONAL")
    if not is_replica(r.props) and is_known(availability) and availability != "REGIONAL":
        yield f"settings.availabilityType is {availability}: a zone outage takes the database down"


def _sql_backup_retention(r: Subject) -> Iterator[str]:
    if is_replica(r.props):
        return
    configured = get(r.props, "settings.backupConfiguration.backupRetentionSettings.retainedBackups")
    kept = as_number(7 if configured is None else configured)  # Cloud SQL keeps 7 unless told otherwise
    wanted = as_number(r.config["minRetainedBackups"]) or 0
    if kept is not None and kept < wanted:
        shown = f"{kept:g} (the default)" if configured is None else f"{kept:g}"
        yield f"{shown} backups are retained; keep at least {wanted:g}"


def _redis_standard_ha(r: Subject) -> Iterator[str]:
    tier = get(r.props, "tier", "BASIC")
    if is_known(tier) and tier != "STANDARD_HA":
        yield f"tier is {tier}: no replica, a node failure empties the cache and stops writes"


def _run_min_instances(r: Subject) -> Iterator[str]:
    role = service_role(r.name, r.props)
    if role not in r.config["services"]:
        return
    counts = [get(r.props, "template.scaling.minInstanceCount", 0), get(r.props, "scaling.minInstanceCount", 0)]
    if not all(is_known(count) for count in counts):
        return
    warm = max(as_number(count) or 0 for count in counts)
    wanted = as_number(r.config["minInstances"]) or 0
    if warm < wanted:
        yield f"the {role} service keeps {warm:g} warm instances; keep at least {wanted:g} to avoid cold starts"


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="reliability-sql-regional",
            description="Production Cloud SQL primaries must be highly available (REGIONAL).",
            remediation="Set settings.availabilityType=REGIONAL.",
            sources=(google_doc("https://cloud.google.com/sql/docs/postgres/high-availability", "sql-ha"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.HIGH,
        ),
        (SQL_INSTANCE,),
        _sql_regional,
    ),
    resource_policy(
        Meta(
            name="reliability-sql-backup-retention",
            description="Cloud SQL primaries must retain at least `minRetainedBackups` automated backups.",
            remediation="Set settings.backupConfiguration.backupRetentionSettings.retainedBackups.",
            sources=(google_doc("https://cloud.google.com/sql/docs/postgres/backup-recovery/backups", "sql-backups"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
            params={"minRetainedBackups": {"type": "integer", "minimum": 1, "maximum": 365, "default": 7}},
        ),
        (SQL_INSTANCE,),
        _sql_backup_retention,
    ),
    resource_policy(
        Meta(
            name="reliability-redis-standard-ha",
            description="Production Memorystore for Redis must use the STANDARD_HA tier.",
            remediation="Set tier=STANDARD_HA (changing the tier replaces the instance).",
            sources=(
                google_doc(
                    "https://cloud.google.com/memorystore/docs/redis/high-availability-for-memorystore-for-redis",
                    "redis-ha",
                ),
            ),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
        ),
        (REDIS_INSTANCE,),
        _redis_standard_ha,
    ),
    resource_policy(
        Meta(
            name="reliability-run-min-instances",
            description="The listed Grid services (by `grid-service` label, else name) keep warm instances.",
            remediation="Set template.scaling.minInstanceCount to at least `minInstances` on these services.",
            sources=(google_doc("https://cloud.google.com/run/docs/configuring/min-instances", "min-instances"),),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.MEDIUM,
            params={
                "minInstances": {"type": "integer", "minimum": 0, "default": 2},
                "services": {"type": "array", "items": {"type": "string"}, "default": ["api", "auth"]},
            },
        ),
        (RUN_SERVICE,),
        _run_min_instances,
    ),
]
