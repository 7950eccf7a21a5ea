"""Memorystore Redis as registered, per environment."""

from __future__ import annotations

from pathlib import Path

from components.cache import Cache, CacheConfig
from tests.components.test_standalone import build_alone

REDIS = "gcp:redis/instance:Instance"


def test_prod_is_standard_ha_with_auth_tls_and_persistence(synth) -> None:
    plan = synth("prod")
    redis = plan.one(REDIS)
    assert redis.inputs["tier"] == "STANDARD_HA"
    assert redis.inputs["authEnabled"] is True
    assert redis.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert redis.inputs["redisVersion"] == "REDIS_7_2"
    assert redis.inputs["connectMode"] == "PRIVATE_SERVICE_ACCESS"
    assert redis.inputs["persistenceConfig"]["persistenceMode"] == "RDB"
    assert redis.inputs["redisConfigs"]["maxmemory-policy"] == "allkeys-lru"
    assert redis.protect and redis.inputs["deletionProtection"] is True
    assert plan.one("gcp:servicenetworking/connection:Connection").urn in redis.dependencies


def test_redis_url_secret_uses_tls_scheme_and_is_secret(synth) -> None:
    plan = synth("prod")
    version = plan.one("gcp:secretmanager/secretVersion:SecretVersion", "-cache-url-secret-version")
    assert version.inputs["secretData"] == "[secret]"
    assert plan.outputs["cacheUrlSecretId"] == "projects/acme-grid-prod/secrets/grid-prod-redis-url"


def test_staging_basic_and_dev_none(synth) -> None:
    assert synth("staging").one(REDIS).inputs["tier"] == "BASIC"
    dev = synth("dev")
    assert dev.of_type(REDIS) == [] and dev.outputs.get("cacheHost") is None


def test_keyspace_notifications_and_replicas_from_config(tmp_path: Path) -> None:
    config = CacheConfig.model_validate(
        {"tier": "STANDARD_HA", "memorySizeGb": 5, "readReplicas": 1, "keyspaceNotifications": "Ex"}
    )
    redis = build_alone(Cache, tmp_path, config=config).one(REDIS)
    assert redis.inputs["redisConfigs"]["notify-keyspace-events"] == "Ex"
    assert redis.inputs["replicaCount"] == 1 and redis.inputs["readReplicasMode"] == "READ_REPLICAS_ENABLED"
