"""Memorystore for Redis 7, reachable only over private service access, AUTH string kept in Secret Manager.

Or, with ``grid:cache.external``, a Redis outside Google Cloud (Upstash): then only its ``rediss://`` URL, from
the stack's secret config, is stored in Secret Manager for the services; no instance, no peering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent, pem_bundle
from components.external import ExternalConfig
from components.networking import PrivateAccess
from components.secrets import Secret, SecretArgs, check_datastore_args, external_url_secret
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel

# --- config: the typed, validated input of this component (grid:cache in a stack file) ---


class RedisMaintenanceConfig(ConfigModel):
    day: Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"] = "SUNDAY"
    hour: int = Field(3, ge=0, le=23)


class CacheConfig(ConfigModel):
    tier: Literal["none", "BASIC", "STANDARD_HA"] = "none"
    memory_size_gb: int = Field(1, ge=1, le=gcp_limits.REDIS_MAX_GB)
    version: Literal["REDIS_6_X", "REDIS_7_0", "REDIS_7_2"] = "REDIS_7_2"
    auth_enabled: bool = True
    transit_encryption: bool = False
    maxmemory_policy: str = "allkeys-lru"
    keyspace_notifications: str = Field("", description="notify-keyspace-events flags, e.g. Ex.")
    persistence: bool = False
    snapshot_period: Literal["ONE_HOUR", "SIX_HOURS", "TWELVE_HOURS", "TWENTY_FOUR_HOURS"] = "TWELVE_HOURS"
    read_replicas: int = Field(0, ge=0, le=5)
    maintenance: RedisMaintenanceConfig = RedisMaintenanceConfig()
    external: ExternalConfig | None = Field(
        None,
        description="A Redis outside Google Cloud (Upstash) instead of Memorystore; tier and the settings "
        "that shape the instance are then unused.",
    )

    @field_validator("maxmemory_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in gcp_limits.REDIS_EVICTION_POLICIES:
            options = ", ".join(sorted(gcp_limits.REDIS_EVICTION_POLICIES))
            raise ValueError(f"must be one of {options} (got '{value}')")
        return value

    @field_validator("keyspace_notifications")
    @classmethod
    def _notify(cls, value: str) -> str:
        if bad := set(value) - set("KEg$lshzxetmdnA"):
            raise ValueError(f"unsupported notify-keyspace-events flags {''.join(sorted(bad))!r}")
        return value

    @model_validator(mode="after")
    def _tier_rules(self) -> CacheConfig:
        if self.read_replicas and self.tier != "STANDARD_HA":
            raise ValueError("readReplicas need tier STANDARD_HA")
        if self.read_replicas and self.memory_size_gb < 5:
            raise ValueError("readReplicas need memorySizeGb of at least 5")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the services get a Redis at all (Memorystore or external)."""
        return self.tier != "none" or self.external is not None

    @property
    def memorystore(self) -> bool:
        """Whether the stack runs its own Memorystore instance."""
        return self.external is None and self.tier != "none"


@dataclass
class CacheArgs:
    config: CacheConfig
    """Tier, size, AUTH/TLS, eviction and persistence from ``grid:cache`` (tier must not be ``none``)."""
    project: str
    region: str
    access: PrivateAccess | None
    """Network, private-service-access range and peering (PRIVATE_SERVICE_ACCESS mode needs the peering first);
    None with an external Redis."""
    url_secret_id: str
    """Secret ID of the ``redis://`` / ``rediss://`` URL (with the AUTH string) the services read."""
    protect: bool = False
    """Guard against deletion, and so against the silent replacement an AUTH/TLS change causes."""
    accessors: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    external_url: pulumi.Input[str] | None = None
    """The external Redis's ``rediss://`` URL (a Pulumi secret from ``grid:<external.urlSecret>``)."""
    keep_replaced_secret_versions: bool = False
    """Keep the URL secret's replaced versions enabled (``SecretArgs.keep_replaced_versions``): the stack rolls
    out tagged."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        if not self.config.enabled:
            raise ValueError("Cache needs a tier other than 'none'; skip the component for no Redis")
        check_datastore_args(self, "redis", "a Memorystore instance")


class Cache(GridComponent):
    _module = "cache"
    # The child whose physical name Google limits (``limited_child_name``; a stack checks it up front too).
    INSTANCE = "instance"

    instance_id: pulumi.Output[str] | None
    """``projects/<p>/locations/<region>/instances/<name>``, as monitoring filters want it (None: external)."""
    host: pulumi.Output[str] | None
    port: pulumi.Output[int] | None
    url_secret: Secret
    server_ca_cert: pulumi.Input[str] | None
    """PEM of every server CA of the instance when TLS is on (several during a CA rotation, all to be trusted:
    https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption#certificate_authority_rotation),
    for clients to verify the server. Not a secret."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        super().__init__(name, opts, limited={self.INSTANCE: "redis_instance"} if cfg.memorystore else None)
        if cfg.external is not None:
            self._external(args)
            return
        assert args.access is not None  # CacheArgs refused a Memorystore instance without it
        redis = gcp.redis
        redis_configs = {"maxmemory-policy": cfg.maxmemory_policy}
        if cfg.keyspace_notifications:
            redis_configs["notify-keyspace-events"] = cfg.keyspace_notifications
        instance = redis.Instance(
            self.limited_child_name(self.INSTANCE),
            project=args.project,
            region=args.region,
            tier=cfg.tier,
            memory_size_gb=cfg.memory_size_gb,
            redis_version=cfg.version,
            display_name=f"{name} cache",
            authorized_network=args.access.network_id,
            connect_mode="PRIVATE_SERVICE_ACCESS",
            reserved_ip_range=args.access.range_name,
            auth_enabled=cfg.auth_enabled,
            transit_encryption_mode="SERVER_AUTHENTICATION" if cfg.transit_encryption else "DISABLED",
            redis_configs=redis_configs,
            replica_count=cfg.read_replicas or None,
            read_replicas_mode="READ_REPLICAS_ENABLED" if cfg.read_replicas else None,
            persistence_config=redis.InstancePersistenceConfigArgs(
                persistence_mode="RDB", rdb_snapshot_period=cfg.snapshot_period
            )
            if cfg.persistence
            else redis.InstancePersistenceConfigArgs(persistence_mode="DISABLED"),
            maintenance_policy=redis.InstanceMaintenancePolicyArgs(
                weekly_maintenance_windows=[
                    redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                        day=cfg.maintenance.day,
                        start_time=redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                            hours=cfg.maintenance.hour, minutes=0, seconds=0, nanos=0
                        ),
                    )
                ]
            ),
            deletion_protection=args.protect,
            labels=dict(args.labels),
            opts=self.child_opts(
                depends_on=[args.access.peering],
                protect=args.protect,
                # Toggling AUTH or TLS recreates the instance (and empties it); make previews say so loudly.
                replace_on_changes=["authEnabled", "transitEncryptionMode"],
            ),
        )
        scheme = "rediss" if cfg.transit_encryption else "redis"
        if cfg.auth_enabled:
            url = pulumi.Output.format(
                "{0}://:{1}@{2}:{3}/0", scheme, instance.auth_string, instance.host, instance.port
            )
        else:
            url = pulumi.Output.format("{0}://{1}:{2}/0", scheme, instance.host, instance.port)
        self.url_secret = Secret(
            self.child_name("url-secret"),
            SecretArgs(
                secret_id=args.url_secret_id,
                value=pulumi.Output.secret(url),
                accessors=args.accessors,
                labels=args.labels,
                keep_replaced_versions=args.keep_replaced_secret_versions,
            ),
            opts=self.child_opts(),
        )
        self.instance_id = instance.id
        self.host = instance.host
        self.port = instance.port
        self.server_ca_cert = instance.server_ca_certs.apply(pem_bundle) if cfg.transit_encryption else None
        self.register_outputs({"host": self.host, "url_secret_id": self.url_secret.secret_id})

    def _external(self, args: CacheArgs) -> None:
        """Only the external Redis's URL, in the same secret the Memorystore URL would be in."""
        self.url_secret = external_url_secret(
            self,
            "redis",
            args.external_url,
            args.url_secret_id,
            args.accessors,
            args.labels,
            keep_replaced_versions=args.keep_replaced_secret_versions,
        )
        self.instance_id = self.host = self.port = None
        self.server_ca_cert = args.config.external.ca_cert
        self.register_outputs({"url_secret_id": self.url_secret.secret_id})
