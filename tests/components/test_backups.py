"""Scheduled Cloud SQL exports into a retention-locked bucket."""

from __future__ import annotations

from components.backups import EXPORT_PERMISSIONS, WORKFLOW


def test_prod_exports_daily_to_a_locked_private_bucket(synth) -> None:
    plan = synth("prod")
    bucket = plan.one("gcp:storage/bucket:Bucket", "-db-exports-bucket")
    assert bucket.inputs["retentionPolicy"] == {"retentionPeriod": 90 * 86400, "isLocked": True}
    assert bucket.inputs["uniformBucketLevelAccess"] is True and bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.protect is True
    writer = plan.one("gcp:storage/bucketIAMMember:BucketIAMMember", "-db-exports-sql-writes")
    instance = plan.one("gcp:sql/databaseInstance:DatabaseInstance", "-db-instance")
    assert writer.inputs["role"] == "roles/storage.objectCreator"
    assert writer.inputs["member"] == "serviceAccount:" + instance.outputs["serviceAccountEmailAddress"]
    workflow = plan.one("gcp:workflows/workflow:Workflow")
    assert workflow.inputs["userEnvVars"]["INSTANCE"] == instance.inputs["name"]
    assert workflow.inputs["userEnvVars"]["BUCKET"] == bucket.inputs["name"]
    assert workflow.inputs["serviceAccount"].startswith("grid-prod-backup@")
    job = plan.one("gcp:cloudscheduler/job:Job", "-db-exports-schedule-daily")
    target = job.inputs["httpTarget"]
    workflow_id = f"projects/acme-grid-prod/locations/us-central1/workflows/{workflow.outputs['name']}"
    assert target["uri"] == f"https://workflowexecutions.googleapis.com/v1/{workflow_id}/executions"
    assert target["oauthToken"]["serviceAccountEmail"].startswith("grid-prod-backup@") and "oidcToken" not in target


def test_export_permission_is_scoped_to_the_instance(synth) -> None:
    plan = synth("prod")
    grant = plan.one("gcp:projects/iAMMember:IAMMember", "-runner-export-instance")
    instance = plan.one("gcp:sql/databaseInstance:DatabaseInstance", "-db-instance")
    # Not Cloud SQL Editor (CKV_GCP_42: it could reconfigure or delete the instance): a role with the export permission.
    role = plan.one("gcp:projects/iAMCustomRole:IAMCustomRole", "-db-exports-exporter-role")
    assert role.inputs["permissions"] == list(EXPORT_PERMISSIONS) == ["cloudsql.instances.export"]
    assert grant.inputs["role"] == role.outputs["name"] == f"projects/acme-grid-prod/roles/{role.inputs['roleId']}"
    assert role.urn in grant.dependencies
    assert (
        grant.inputs["condition"]["expression"]
        == f'resource.name == "projects/acme-grid-prod/instances/{instance.inputs["name"]}"'
    )


def test_staging_unlocked_and_dev_without_exports(synth) -> None:
    staging = synth("staging").one("gcp:storage/bucket:Bucket", "-db-exports-bucket")
    assert staging.inputs["retentionPolicy"] == {"retentionPeriod": 14 * 86400, "isLocked": False}
    assert synth("dev").of_type("gcp:workflows/workflow:Workflow") == []


def test_workflow_exports_a_dated_compressed_file() -> None:
    assert "googleapis.sqladmin.v1.instances.export" in WORKFLOW
    assert 'stamp + ".sql.gz"' in WORKFLOW and "time.format(sys.now())" in WORKFLOW


def test_dev_stops_its_services_when_the_budget_is_spent(synth) -> None:
    plan = synth("dev")
    budget = plan.one("gcp:billing/budget:Budget")
    topic = plan.one("gcp:pubsub/topic:Topic", "-cost-cap-topic")
    assert budget.inputs["allUpdatesRule"]["pubsubTopic"] == f"projects/acme-grid-dev/topics/{topic.inputs['name']}"
    function = plan.one("gcp:cloudfunctionsv2/function:Function", "-cost-cap-function-function")
    assert function.inputs["eventTrigger"]["eventType"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert function.inputs["serviceConfig"]["environmentVariables"]["STACK"] == "grid-dev"
    grant = plan.one("gcp:projects/iAMMember:IAMMember", "-cost-cap-may-stop-services")
    assert grant.inputs["role"] == "roles/run.developer"
    assert 'services/grid-dev-")' in grant.inputs["condition"]["expression"]
    assert not [t for t in synth("prod").of_type("gcp:pubsub/topic:Topic") if "cost-cap" in t.name]
