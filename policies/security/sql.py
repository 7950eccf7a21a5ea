"""Cloud SQL for PostgreSQL: network exposure, encryption in transit, recoverability, audit logging."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pulumi_policy import EnforcementLevel, Policy, Severity

from policies.gcp import SQL_INSTANCE
from policies.props import UNKNOWN, get, is_known, items, known_items
from policies.rule import Meta, Subject, checkov, cis, google_doc, resource_policy

_TYPES = (SQL_INSTANCE,)
_FLAGS_DOC = "https://cloud.google.com/sql/docs/postgres/flags"
_ENCRYPTED_SSL_MODES = frozenset({"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"})
_OPEN_RANGES = frozenset({"0.0.0.0/0", "::/0"})


def is_replica(props: dict) -> bool:
    """Read replicas inherit backups and PITR from their primary, so those rules skip them."""
    master = get(props, "masterInstanceName")
    return master is UNKNOWN or bool(master) or get(props, "instanceType") == "READ_REPLICA_INSTANCE"


def _no_public_ip(r: Subject) -> Iterator[str]:
    # The provider defaults ipv4Enabled to true, so leaving it out means a public address.
    if get(r.props, "settings.ipConfiguration.ipv4Enabled", True) is True:
        yield "settings.ipConfiguration.ipv4Enabled is true (the provider default), so the instance has a public IP"


def _no_open_authorized_networks(r: Subject) -> Iterator[str]:
    for network in known_items(r.props, "settings.ipConfiguration.authorizedNetworks"):
        if get(network, "value") in _OPEN_RANGES:
            label = get(network, "name", "(unnamed)")
            yield f"authorized network {label} allows {get(network, 'value')} (the whole internet)"


def _ssl_required(r: Subject) -> Iterator[str]:
    given = get(r.props, "settings.ipConfiguration.sslMode")
    mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED" if given is None else given
    if is_known(mode) and mode not in _ENCRYPTED_SSL_MODES:
        shown = f"unset (the API's default, {mode})" if given is None else mode
        yield (
            f"settings.ipConfiguration.sslMode is {shown}: unencrypted connections are accepted; "
            f"accepted: {' or '.join(sorted(_ENCRYPTED_SSL_MODES))}"
        )


def _backups_enabled(r: Subject) -> Iterator[str]:
    if is_replica(r.props):
        return
    if get(r.props, "settings.backupConfiguration.enabled", False) is False:
        yield "settings.backupConfiguration.enabled is not true: no automated backups"


def _point_in_time_recovery(r: Subject) -> Iterator[str]:
    if is_replica(r.props):
        return
    if get(r.props, "settings.backupConfiguration.pointInTimeRecoveryEnabled", False) is False:
        yield "settings.backupConfiguration.pointInTimeRecoveryEnabled is not true"


def _deletion_protection(r: Subject) -> Iterator[str]:
    # Two independent guards: Pulumi's (provider default true) and Cloud SQL's own API flag (default false).
    if get(r.props, "deletionProtection", True) is False:
        yield "deletionProtection is false: `pulumi destroy` or a replace would delete the instance"
    if get(r.props, "settings.deletionProtectionEnabled", False) is False:
        yield "settings.deletionProtectionEnabled is not true: the instance can be deleted from the console or API"


@dataclass(frozen=True)
class FlagRequirement:
    """A CIS 6.2.x database flag: the values that comply and PostgreSQL's default when unset."""

    policy: str
    flag: str
    allowed: frozenset[str]
    postgres_default: str
    cis_item: str | None
    checkov_id: str | None
    why: str


_SEVERITIES_UP_TO_WARNING = frozenset({"debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning"})

FLAG_REQUIREMENTS: tuple[FlagRequirement, ...] = (
    FlagRequirement(
        "sql-log-error-verbosity",
        "log_error_verbosity",
        frozenset({"default", "verbose"}),
        "default",
        "6.2.1",
        None,
        "TERSE drops the detail needed to investigate errors",
    ),
    FlagRequirement(
        "sql-log-connections",
        "log_connections",
        frozenset({"on"}),
        "off",
        "6.2.2",
        "CKV_GCP_52",
        "connection attempts must be auditable",
    ),
    FlagRequirement(
        "sql-log-disconnections",
        "log_disconnections",
        frozenset({"on"}),
        "off",
        "6.2.3",
        "CKV_GCP_53",
        "session ends and durations must be auditable",
    ),
    FlagRequirement(
        "sql-log-statement",
        "log_statement",
        frozenset({"ddl", "mod", "all"}),
        "none",
        "6.2.4",
        "CKV_GCP_111",
        "schema changes must be logged",
    ),
    FlagRequirement(
        "sql-log-min-messages",
        "log_min_messages",
        _SEVERITIES_UP_TO_WARNING,
        "warning",
        "6.2.5",
        "CKV_GCP_55",
        "warnings and worse must reach the log",
    ),
    FlagRequirement(
        "sql-log-min-error-statement",
        "log_min_error_statement",
        _SEVERITIES_UP_TO_WARNING | {"error"},
        "error",
        "6.2.6",
        "CKV_GCP_109",
        "statements that fail must be logged",
    ),
    FlagRequirement(
        "sql-log-min-duration-statement",
        "log_min_duration_statement",
        frozenset({"-1"}),
        "-1",
        "6.2.7",
        "CKV_GCP_57",
        "logging statement text by duration can leak sensitive data",
    ),
    FlagRequirement(
        "sql-pgaudit-enabled",
        "cloudsql.enable_pgaudit",
        frozenset({"on"}),
        "off",
        "6.2.8",
        "CKV_GCP_110",
        "pgAudit gives centralised, structured audit logs",
    ),
)


def flag_rule(requirement: FlagRequirement):
    def check(r: Subject) -> Iterator[str]:
        version = get(r.props, "databaseVersion")
        if not isinstance(version, str) or not version.startswith("POSTGRES"):
            return
        flags = items(r.props, "settings.databaseFlags")
        if flags is UNKNOWN:
            return
        values = [get(flag, "value") for flag in flags if is_known(flag) and get(flag, "name") == requirement.flag]
        if not values and any(not is_known(flag) or not is_known(get(flag, "name")) for flag in flags):
            return  # the flag may be among the entries not known yet
        value = values[-1] if values else requirement.postgres_default
        if is_known(value) and str(value).lower() not in requirement.allowed:
            shown = "unset, PostgreSQL default " if not values else ""
            yield (
                f"database flag {requirement.flag} is {shown}'{value}'; "
                f"expected one of {sorted(requirement.allowed)}: {requirement.why}"
            )

    return check


def _flag_policy(requirement: FlagRequirement) -> Policy:
    sources = [cis(requirement.cis_item), google_doc(_FLAGS_DOC)]
    if requirement.checkov_id:
        sources.insert(1, checkov(requirement.checkov_id))
    meta = Meta(
        name=requirement.policy,
        description=f"Cloud SQL PostgreSQL flag {requirement.flag} must be one of {sorted(requirement.allowed)}.",
        remediation=(
            f"Add {{name: '{requirement.flag}', value: '{sorted(requirement.allowed)[0]}'}} to settings.databaseFlags."
        ),
        sources=tuple(sources),
        severity=Severity.MEDIUM,
    )
    return resource_policy(meta, _TYPES, flag_rule(requirement))


POLICIES: list[Policy] = [
    resource_policy(
        Meta(
            name="sql-no-public-ip",
            description="Cloud SQL instances must not have a public IPv4 address.",
            remediation="Set settings.ipConfiguration.ipv4Enabled=false and privateNetwork to the VPC "
            "(private services access).",
            sources=(cis("6.6"), checkov("CKV_GCP_60")),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _TYPES,
        _no_public_ip,
    ),
    resource_policy(
        Meta(
            name="sql-no-open-authorized-networks",
            description="Cloud SQL authorized networks must not include 0.0.0.0/0.",
            remediation="Remove the 0.0.0.0/0 entry from settings.ipConfiguration.authorizedNetworks; "
            "connect through private IP or the Cloud SQL connectors.",
            sources=(cis("6.5"), checkov("CKV_GCP_11")),
            enforcement=EnforcementLevel.MANDATORY,
            severity=Severity.CRITICAL,
        ),
        _TYPES,
        _no_open_authorized_networks,
    ),
    resource_policy(
        Meta(
            name="sql-ssl-required",
            description="Cloud SQL must refuse unencrypted connections. Accepts settings.ipConfiguration.sslMode "
            "ENCRYPTED_ONLY or TRUSTED_CLIENT_CERTIFICATE_REQUIRED; rejects "
            "ALLOW_UNENCRYPTED_AND_ENCRYPTED and an unset sslMode (the API then allows plaintext). "
            "It judges the server side only: that clients verify the server is the stack's part "
            "(Grid's services use sslmode=verify-ca against the instance's own CA, DATABASE_CA_CERT).",
            remediation="Set settings.ipConfiguration.sslMode to ENCRYPTED_ONLY "
            "(or TRUSTED_CLIENT_CERTIFICATE_REQUIRED to also require client certificates).",
            sources=(cis("6.4"), checkov("CKV_GCP_6")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _ssl_required,
    ),
    resource_policy(
        Meta(
            name="sql-backups-enabled",
            description="Cloud SQL primary instances must have automated backups.",
            remediation="Set settings.backupConfiguration.enabled=true with a startTime.",
            sources=(cis("6.7"), checkov("CKV_GCP_14")),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _backups_enabled,
    ),
    resource_policy(
        Meta(
            name="sql-point-in-time-recovery",
            description="Cloud SQL primary instances must have point-in-time recovery (disabled in dev).",
            remediation="Set settings.backupConfiguration.pointInTimeRecoveryEnabled=true "
            "and transactionLogRetentionDays.",
            sources=(google_doc("https://cloud.google.com/sql/docs/postgres/backup-recovery/pitr", "pitr"),),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _point_in_time_recovery,
    ),
    resource_policy(
        Meta(
            name="sql-deletion-protection",
            description="Cloud SQL instances must be protected from deletion, by Pulumi and by the API (prod only).",
            remediation="Keep deletionProtection=true, set settings.deletionProtectionEnabled=true and "
            "protect=True on the resource.",
            sources=(
                google_doc("https://cloud.google.com/sql/docs/postgres/deletion-protection", "deletion-protection"),
            ),
            enforcement=EnforcementLevel.MANDATORY,
        ),
        _TYPES,
        _deletion_protection,
    ),
    *(_flag_policy(requirement) for requirement in FLAG_REQUIREMENTS),
]
