"""Cloud SQL for PostgreSQL: private IP only, TLS only, backed up, CIS logging flags, optional replica.

Or, with ``grid:database.external``, a Postgres outside Google Cloud (Supabase): then only its URL, from the
stack's secret config, is stored in Secret Manager for the services; no instance, no peering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent, pem_bundle
from components.backups import BackupExportConfig
from components.external import ExternalConfig
from components.networking import PrivateAccess
from components.secrets import Secret, SecretArgs, check_datastore_args, external_url_secret
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel
from gridlib.gcp_types import Region

# --- config: the typed, validated input of this component (grid:database in a stack file) ---


_HHMM = re.compile(r"^([01]\d|2[0-3]):00$")


class BackupConfig(ConfigModel):
    enabled: bool = True
    start_time: str = Field("02:00", description="UTC hour the daily backup window starts, HH:00.")
    retained_backups: int = Field(7, ge=1, le=365)
    pitr: bool = Field(False, description="Point-in-time recovery (write-ahead-log retention).")
    log_retention_days: int = Field(7, ge=1, le=35)

    @field_validator("start_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"must be a full UTC hour like 02:00 (got '{value}')")
        return value

    @model_validator(mode="after")
    def _pitr_needs_backups(self) -> BackupConfig:
        if self.pitr and not self.enabled:
            raise ValueError("pitr needs backups: set enabled: true or pitr: false")
        return self


class SqlMaintenanceConfig(ConfigModel):
    day: int = Field(7, ge=1, le=7, description="1 = Monday ... 7 = Sunday.")
    hour: int = Field(3, ge=0, le=23)
    update_track: Literal["stable", "canary", "week5"] = "stable"


class DatabaseConfig(ConfigModel):
    version: Literal["POSTGRES_14", "POSTGRES_15", "POSTGRES_16", "POSTGRES_17"] = "POSTGRES_16"
    tier: str = "db-f1-micro"
    edition: Literal["ENTERPRISE", "ENTERPRISE_PLUS"] = "ENTERPRISE"
    availability: Literal["zonal", "regional"] = "zonal"
    disk_type: Literal["PD_SSD", "PD_HDD"] = "PD_SSD"
    disk_size_gb: int = Field(10, ge=10, le=65536)
    disk_autoresize: bool = True
    disk_autoresize_limit_gb: int = Field(0, ge=0, le=65536, description="0 means no limit.")
    backups: BackupConfig = BackupConfig()
    exports: BackupExportConfig = BackupExportConfig()
    maintenance: SqlMaintenanceConfig = SqlMaintenanceConfig()
    query_insights: bool = True
    replica_region: Region | None = Field(None, description="Region of a cross-region read replica, or null.")
    database_name: str = "grid"
    user_name: str = "grid_app"
    deletion_protection: bool = False
    max_connections: int | None = Field(None, ge=14, le=262143)
    flags: dict[str, str] = Field(default_factory=dict, description="Extra database flags.")
    external: ExternalConfig | None = Field(
        None,
        description="A Postgres outside Google Cloud (Supabase) instead of Cloud SQL; the settings above "
        "that shape the instance are then unused.",
    )

    @field_validator("tier")
    @classmethod
    def _tier(cls, value: str) -> str:
        gcp_limits.parse_sql_tier(value)
        return value

    @field_validator("database_name", "user_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if problem := gcp_limits.name_problem("postgres_identifier", value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _edition_rules(self) -> DatabaseConfig:
        tier = gcp_limits.parse_sql_tier(self.tier)
        if tier.edition != self.edition:
            raise ValueError(
                f"tier {self.tier} exists only in edition {tier.edition}, not {self.edition}: "
                f"set edition: {tier.edition} or pick a {self.edition} tier"
            )
        if self.edition == "ENTERPRISE" and self.backups.log_retention_days > 7:
            raise ValueError("backups.logRetentionDays is at most 7 in the ENTERPRISE edition")
        if self.edition == "ENTERPRISE_PLUS" and self.disk_type == "PD_HDD":
            raise ValueError("the ENTERPRISE_PLUS edition supports only diskType PD_SSD")
        if self.disk_autoresize_limit_gb and self.disk_autoresize_limit_gb < self.disk_size_gb:
            raise ValueError(
                f"diskAutoresizeLimitGb ({self.disk_autoresize_limit_gb}) is below diskSizeGb ({self.disk_size_gb})"
            )
        if self.backups.log_retention_days > self.backups.retained_backups and self.backups.pitr:
            raise ValueError("backups.logRetentionDays cannot exceed backups.retainedBackups with pitr on")
        if self.external and self.max_connections is None:
            raise ValueError(
                "external: set maxConnections to the connection limit your provider gives you (Supabase's "
                "transaction pooler: its max client connections) so the services' pools fit it"
            )
        return self

    @property
    def cloud_sql(self) -> bool:
        """Whether the stack runs its own Cloud SQL instance (not an external Postgres)."""
        return self.external is None

    @property
    def sql_tier(self) -> gcp_limits.SqlTier:
        return gcp_limits.parse_sql_tier(self.tier)


sql = gcp.sql

# CIS Google Cloud Platform Foundation Benchmark v3.0, section 6.2 (Cloud SQL for PostgreSQL).
CIS_FLAGS: dict[str, str] = {
    "log_error_verbosity": "default",  # 6.2.1
    "log_connections": "on",  # 6.2.2
    "log_disconnections": "on",  # 6.2.3
    "log_statement": "ddl",  # 6.2.4
    "log_min_messages": "warning",  # 6.2.5
    "log_min_error_statement": "error",  # 6.2.6
    "log_min_duration_statement": "-1",  # 6.2.7
    "cloudsql.enable_pgaudit": "on",  # 6.2.8
}
# Cloud SQL's default CA mode gives each instance its own CA and a server certificate whose subject is the
# instance (CN ``<project>:<instance>``) with no subject-alternative name for its private IP, which is what the
# services connect to (https://cloud.google.com/sql/docs/postgres/configure-ssl-instance, "per-instance CA";
# Google's own connectors verify the chain and then the instance name, not the IP:
# https://cloud.google.com/sql/docs/postgres/connect-connectors). libpq's verify-full compares the host (the IP)
# with the certificate's names, so it would refuse every connection; verify-ca checks the chain against the
# pinned per-instance CA (DATABASE_CA_CERT), which only this instance's certificate chains to. Same reasoning as
# Memorystore's in app/common/redis.py. See docs/security.md.
CLOUD_SQL_SSLMODE = "verify-ca"

# Cheap diagnostics Checkov asks for (CKV_GCP_51, CKV_GCP_54) and earlier CIS versions did: one line per checkpoint
# and per lock wait longer than deadlock_timeout (1 s) — https://cloud.google.com/sql/docs/postgres/flags
DIAGNOSTIC_FLAGS: dict[str, str] = {
    "log_checkpoints": "on",
    "log_lock_waits": "on",
}


@dataclass
class DatabaseArgs:
    config: DatabaseConfig
    """Tier, edition, availability, disk, backups and protection from ``grid:database``."""
    project: str
    region: str
    access: PrivateAccess | None
    """Network, private-service-access range and peering for the private IP (None with an external database)."""
    url_secret_id: str
    """Secret ID of the ``postgresql://`` connection URL the services read."""
    password_secret_id: str
    """Secret ID of the app user's password."""
    accessors: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload -> IAM member allowed to read the connection URL secret."""
    labels: Mapping[str, str] = field(default_factory=dict)
    external_url: pulumi.Input[str] | None = None
    """The external database's URL (a Pulumi secret from ``grid:<external.urlSecret>``) when ``config.external``."""
    keep_replaced_secret_versions: bool = False
    """Keep the URL secret's replaced versions enabled (``SecretArgs.keep_replaced_versions``): the stack rolls
    out tagged."""

    def __post_init__(self) -> None:
        check_datastore_args(self, "postgres", "a Cloud SQL database")


class Database(GridComponent):
    _module = "database"
    # Children whose physical names Google limits (``limited_child_name``; a stack checks them up front too).
    INSTANCE, REPLICA = "instance", "replica"

    instance_name: pulumi.Output[str] | None
    """None with an external database (as every instance output below)."""
    connection_name: pulumi.Output[str] | None
    """``project:region:instance``, for the Cloud SQL connectors."""
    private_ip: pulumi.Output[str] | None
    service_account: pulumi.Output[str] | None
    """The instance's own service account (writes exports)."""
    database_name: str
    user_name: str
    url_secret: Secret
    password_secret: Secret | None
    replica_connection_name: pulumi.Output[str] | None
    server_ca_cert: pulumi.Input[str] | None
    """PEM of the CA(s) the services verify the server with (DATABASE_CA_CERT): Cloud SQL's per-instance server
    CAs, or an external provider's CA from ``external.caCert``; None: the system's CAs. Public, not a secret."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        instances = {self.INSTANCE: "sql_instance", **({self.REPLICA: "sql_instance"} if cfg.replica_region else {})}
        super().__init__(name, opts, limited=instances if cfg.cloud_sql else None)
        if cfg.external is not None:
            self._external(args)
            return
        assert args.access is not None  # DatabaseArgs refused a Cloud SQL instance without it
        protected = cfg.deletion_protection
        flags = {
            **CIS_FLAGS,
            **DIAGNOSTIC_FLAGS,
            **({"max_connections": str(cfg.max_connections)} if cfg.max_connections else {}),
        }
        flags.update(cfg.flags)
        ip_configuration = sql.DatabaseInstanceSettingsIpConfigurationArgs(
            ipv4_enabled=False,
            private_network=args.access.network_id,
            allocated_ip_range=args.access.range_name,
            ssl_mode="ENCRYPTED_ONLY",
            # One CA per instance, so pinning it (DATABASE_CA_CERT, sslmode=verify-ca) identifies this instance
            # alone: see CLOUD_SQL_SSLMODE. Explicit, because that reasoning fails with a shared CA.
            server_ca_mode="GOOGLE_MANAGED_INTERNAL_CA",
            enable_private_path_for_google_cloud_services=True,
        )
        database_flags = [
            sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=k, value=v) for k, v in sorted(flags.items())
        ]

        def settings(availability: str, backups: sql.DatabaseInstanceSettingsBackupConfigurationArgs | None):
            """Settings of the primary (with ``backups``) or of a read replica (``backups`` None).

            A read replica takes no backups and has no maintenance window of its own ("Read replicas do not
            support the maintenance window setting", https://cloud.google.com/sql/docs/postgres/instance-settings);
            sending the primary's gives a 400 or a diff on every preview
            (https://github.com/hashicorp/terraform-provider-google/issues/7609), so a replica gets neither.
            """
            primary = backups is not None
            return sql.DatabaseInstanceSettingsArgs(
                tier=cfg.tier,
                # Always explicit: Postgres 16+ otherwise defaults to ENTERPRISE_PLUS, which rejects most tiers.
                edition=cfg.edition,
                availability_type=availability,
                disk_type=cfg.disk_type,
                disk_size=cfg.disk_size_gb,
                disk_autoresize=cfg.disk_autoresize,
                disk_autoresize_limit=cfg.disk_autoresize_limit_gb,
                deletion_protection_enabled=protected,
                retain_backups_on_delete=protected if primary else None,
                backup_configuration=backups,
                ip_configuration=ip_configuration,
                database_flags=database_flags,
                insights_config=sql.DatabaseInstanceSettingsInsightsConfigArgs(
                    query_insights_enabled=cfg.query_insights,
                    query_string_length=1024,
                    record_application_tags=True,
                    record_client_address=False,
                ),
                maintenance_window=sql.DatabaseInstanceSettingsMaintenanceWindowArgs(
                    day=cfg.maintenance.day, hour=cfg.maintenance.hour, update_track=cfg.maintenance.update_track
                )
                if primary
                else None,
                user_labels=dict(args.labels),
            )

        backups = sql.DatabaseInstanceSettingsBackupConfigurationArgs(
            enabled=cfg.backups.enabled,
            start_time=cfg.backups.start_time,
            point_in_time_recovery_enabled=cfg.backups.pitr,
            transaction_log_retention_days=cfg.backups.log_retention_days,
            backup_retention_settings=sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                retained_backups=cfg.backups.retained_backups, retention_unit="COUNT"
            ),
        )
        instance = sql.DatabaseInstance(
            self.limited_child_name(self.INSTANCE),
            project=args.project,
            region=args.region,
            database_version=cfg.version,
            deletion_protection=protected,
            settings=settings(cfg.availability.upper(), backups),
            opts=self.child_opts(depends_on=[args.access.peering], protect=protected),
        )
        self.replica_connection_name = None
        if cfg.replica_region:
            replica = sql.DatabaseInstance(
                self.limited_child_name(self.REPLICA),
                project=args.project,
                region=cfg.replica_region,
                database_version=cfg.version,
                master_instance_name=instance.name,
                replica_configuration=sql.DatabaseInstanceReplicaConfigurationArgs(failover_target=False),
                deletion_protection=protected,
                # Read replicas take no backups and follow the primary's maintenance (see settings()).
                settings=settings("ZONAL", None),
                opts=self.child_opts(depends_on=[args.access.peering], protect=protected),
            )
            self.replica_connection_name = replica.connection_name
        # Postgres refuses to drop a database or role that still owns objects; abandon them with the instance.
        database = sql.Database(
            self.child_name("db"),
            project=args.project,
            instance=instance.name,
            name=cfg.database_name,
            deletion_policy="ABANDON",
            opts=self.child_opts(),
        )
        password = random.RandomPassword(
            self.child_name("password"),
            length=32,
            special=False,  # URL-safe: the password goes into a postgresql:// URL unescaped
            min_lower=4,
            min_upper=4,
            min_numeric=4,
            opts=self.child_opts(),
        )
        user = sql.User(
            self.child_name("user"),
            project=args.project,
            instance=instance.name,
            name=cfg.user_name,
            password=password.result,
            deletion_policy="ABANDON",
            opts=self.child_opts(),
        )
        url = pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:5432/{3}?sslmode=" + CLOUD_SQL_SSLMODE,
                user.name,
                password.result,
                instance.private_ip_address,
                database.name,
            )
        )
        self.password_secret = Secret(
            self.child_name("password-secret"),
            SecretArgs(secret_id=args.password_secret_id, value=password.result, labels=args.labels),
            opts=self.child_opts(),
        )
        self.url_secret = Secret(
            self.child_name("url-secret"),
            SecretArgs(
                secret_id=args.url_secret_id,
                value=url,
                accessors=args.accessors,
                labels=args.labels,
                keep_replaced_versions=args.keep_replaced_secret_versions,
            ),
            opts=self.child_opts(),
        )
        self.instance_name = instance.name
        self.connection_name = instance.connection_name
        self.private_ip = instance.private_ip_address
        self.service_account = instance.service_account_email_address
        # Every server CA of the instance (several while a CA rotation is pending, all to be trusted:
        # https://cloud.google.com/sql/docs/postgres/manage-ssl-instance#rotate-server-ca).
        self.server_ca_cert = instance.server_ca_certs.apply(pem_bundle)
        self.database_name = cfg.database_name
        self.user_name = cfg.user_name
        self.register_outputs(
            {
                "instance_name": self.instance_name,
                "connection_name": self.connection_name,
                "url_secret_id": self.url_secret.secret_id,
            }
        )

    def _external(self, args: DatabaseArgs) -> None:
        """Only the external database's URL, in the same secret the Cloud SQL URL would be in."""
        self.url_secret = external_url_secret(
            self,
            "postgres",
            args.external_url,
            args.url_secret_id,
            args.accessors,
            args.labels,
            keep_replaced_versions=args.keep_replaced_secret_versions,
        )
        self.instance_name = self.connection_name = self.private_ip = self.service_account = None
        self.password_secret = self.replica_connection_name = None
        self.server_ca_cert = args.config.external.ca_cert
        self.database_name = args.config.database_name
        self.user_name = args.config.user_name
        self.register_outputs({"url_secret_id": self.url_secret.secret_id})
