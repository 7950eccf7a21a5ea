"""Memorystore for Redis 7, reachable only over private service access, AUTH string kept in Secret Manager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator, model_validator

from components._base import GridComponent
from components.networking import PrivateAccess
from components.secrets import Secret, SecretArgs
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
        return self.tier != "none"


@dataclass
class CacheArgs:
    config: CacheConfig
    """Tier, size, AUTH/TLS, eviction and persistence from ``grid:cache`` (tier must not be ``none``)."""
    project: str
    region: str
    access: PrivateAccess
    """Network, private-service-access range and peering (PRIVATE_SERVICE_ACCESS mode needs the peering first)."""
    url_secret_id: str
    """Secret ID of the ``redis://`` / ``rediss://`` URL (with the AUTH string) the services read."""
    protect: bool = False
    """Guard against deletion, and so against the silent replacement an AUTH/TLS change causes."""
    accessors: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


class Cache(GridComponent):
    _module = "cache"

    instance_id: pulumi.Output[str]
    """``projects/<p>/locations/<region>/instances/<name>``, as monitoring filters want it."""
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    url_secret: Secret
    server_ca_cert: pulumi.Output[str] | None
    """PEM of every server CA of the instance when TLS is on (several during a CA rotation, all to be trusted:
    https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption#certificate_authority_rotation),
    for clients to verify the server. Not a secret."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        if not cfg.enabled:
            raise ValueError("Cache needs a tier other than 'none'; skip the component for no Redis")
        redis = gcp.redis
        redis_configs = {"maxmemory-policy": cfg.maxmemory_policy}
        if cfg.keyspace_notifications:
            redis_configs["notify-keyspace-events"] = cfg.keyspace_notifications
        instance = redis.Instance(
            self.child_name("instance"),
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
            ),
            opts=self.child_opts(),
        )
        self.instance_id = instance.id
        self.host = instance.host
        self.port = instance.port
        self.server_ca_cert = (
            instance.server_ca_certs.apply(lambda certs: "".join(c.cert for c in certs or []))
            if cfg.transit_encryption
            else None
        )
        self.register_outputs({"host": self.host, "url_secret_id": self.url_secret.secret_id})
