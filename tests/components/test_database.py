"""Cloud SQL as the program registers it (under mocks), per environment."""

from __future__ import annotations

from components.database import CIS_FLAGS, DIAGNOSTIC_FLAGS

INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
PEERING = "gcp:servicenetworking/connection:Connection"


def test_prod_instance_is_regional_private_tls_only_pitr_and_protected(synth) -> None:
    plan = synth("prod")
    primary = plan.one(INSTANCE, "-db-instance")
    settings = primary.inputs["settings"]
    assert settings["availabilityType"] == "REGIONAL"
    assert settings["tier"] == "db-custom-2-7680" and settings["edition"] == "ENTERPRISE"
    ip = settings["ipConfiguration"]
    assert ip["ipv4Enabled"] is False and ip["sslMode"] == "ENCRYPTED_ONLY"
    assert ip["privateNetwork"].startswith("projects/acme-grid-prod/global/networks/")
    assert "authorizedNetworks" not in ip
    backups = settings["backupConfiguration"]
    assert backups["enabled"] and backups["pointInTimeRecoveryEnabled"]
    assert backups["backupRetentionSettings"]["retainedBackups"] == 30
    assert backups["transactionLogRetentionDays"] == 7
    assert primary.inputs["deletionProtection"] is True and settings["deletionProtectionEnabled"] is True
    assert primary.protect is True
    assert settings["insightsConfig"]["queryInsightsEnabled"] is True
    assert settings["maintenanceWindow"] == {"day": 7, "hour": 3, "updateTrack": "stable"}


def test_instance_depends_on_the_peering(synth) -> None:
    plan = synth("dev")
    peering = plan.one(PEERING)
    assert peering.urn in plan.one(INSTANCE, "-db-instance").dependencies


def test_cis_logging_flags_are_set(synth) -> None:
    flags = {f["name"]: f["value"] for f in synth("dev").one(INSTANCE).inputs["settings"]["databaseFlags"]}
    assert CIS_FLAGS.items() <= flags.items()
    # Checkov CKV_GCP_51 (log_checkpoints) and CKV_GCP_54 (log_lock_waits).
    assert DIAGNOSTIC_FLAGS.items() <= flags.items()


def test_prod_has_a_cross_region_replica_of_the_primary(synth) -> None:
    plan = synth("prod")
    primary, replica = plan.one(INSTANCE, "-db-instance"), plan.one(INSTANCE, "-db-replica")
    assert replica.inputs["masterInstanceName"] == primary.inputs["name"]
    assert replica.inputs["region"] == "us-east1" != primary.inputs["region"]
    assert "backupConfiguration" not in replica.inputs["settings"]
    assert replica.inputs["settings"]["ipConfiguration"]["ipv4Enabled"] is False
    assert replica.protect


def test_dev_uses_a_shared_core_zonal_unprotected_instance(synth) -> None:
    plan = synth("dev")
    [instance] = plan.of_type(INSTANCE)
    settings = instance.inputs["settings"]
    assert settings["tier"] == "db-f1-micro" and settings["availabilityType"] == "ZONAL"
    assert (
        settings["backupConfiguration"]["enabled"] and not settings["backupConfiguration"]["pointInTimeRecoveryEnabled"]
    )
    assert instance.protect is False and instance.inputs["deletionProtection"] is False


def test_app_user_password_and_url_are_secret_and_readable_only_by_named_workloads(synth) -> None:
    plan = synth("prod")
    user = plan.one("gcp:sql/user:User")
    assert user.inputs["password"] == "[secret]" and user.inputs["name"] == "grid_app"
    assert plan.one("gcp:sql/database:Database").inputs["name"] == "grid"
    url_secret = plan.one("gcp:secretmanager/secret:Secret", "-db-url-secret-secret")
    assert url_secret.inputs["secretId"] == "grid-prod-database-url"
    grants = [
        g
        for g in plan.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
        if g.parent and "db-url-secret" in g.parent
    ]
    members = sorted(g.inputs["member"].split(":", 1)[1].split("@")[0] for g in grants)
    assert members == [
        "grid-prod-ai",
        "grid-prod-api",
        "grid-prod-auth",
        "grid-prod-migrations",
        "grid-prod-ml-analytics",
        "grid-prod-scraper",  # the scheduled scraper job reads the database (grid:jobs.scraper.reads)
    ]
    assert all(g.inputs["role"] == "roles/secretmanager.secretAccessor" for g in grants)
    password_secret_grants = [
        g
        for g in plan.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
        if "db-password-secret" in (g.parent or "")
    ]
    assert password_secret_grants == []  # nobody reads the bare password


def test_stack_exports_the_connection_name(synth) -> None:
    outputs = synth("prod").outputs
    assert outputs["databaseConnectionName"].startswith("acme-grid-prod:us-central1:grid-prod-db-instance-")
    assert outputs["databaseReplicaConnectionName"].startswith("acme-grid-prod:us-east1:")


def test_workloads_verify_the_instance_with_its_own_ca(synth) -> None:
    """Issue 17: not `sslmode=require` (encrypted, server unverified) but verify-ca against the per-instance CA,
    delivered to every workload that connects (components/database.py CLOUD_SQL_SSLMODE says why not verify-full)."""
    from components.database import CLOUD_SQL_SSLMODE
    from grid.fakecloud.core import OFFLINE_CA_PEM

    assert CLOUD_SQL_SSLMODE == "verify-ca"
    plan = synth("dev")
    ip = plan.one(INSTANCE, "-db-instance").inputs["settings"]["ipConfiguration"]
    assert ip["serverCaMode"] == "GOOGLE_MANAGED_INTERNAL_CA"  # one CA per instance: pinning it identifies it
    workloads = [r for r in plan.resources if r.type in ("gcp:cloudrunv2/service:Service", "gcp:cloudrunv2/job:Job")]
    for workload in workloads:
        template = workload.inputs["template"].get("template", workload.inputs["template"])
        envs = {e["name"]: e.get("value") for c in template["containers"] for e in c.get("envs", [])}
        assert envs["DATABASE_CA_CERT"] == OFFLINE_CA_PEM, workload.name
    analytics = plan.one("gcp:cloudfunctionsv2/function:Function", "-ml-analytics-function")
    assert analytics.inputs["serviceConfig"]["environmentVariables"]["DATABASE_CA_CERT"] == OFFLINE_CA_PEM
