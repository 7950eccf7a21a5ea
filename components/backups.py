"""Scheduled Cloud SQL exports to a retention-locked bucket, on top of Cloud SQL's automated backups.

Automated backups live and die with the instance; exports are plain SQL files in a bucket whose retention
policy (locked in prod) stops anyone, including a compromised deployer, from deleting them early.
A Workflow names each export by its date (Scheduler cannot template a URI), and Scheduler runs it daily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from components._base import GridComponent
from components.messaging import ScheduledJobArgs, Scheduler, SchedulerArgs
from gridlib.config_base import ConfigModel
from gridlib.gcp_types import Cron

# --- config: the typed, validated input of this component (grid:database.exports in a stack file) ---


class BackupExportConfig(ConfigModel):
    """Daily SQL exports to a retention-locked bucket, in addition to Cloud SQL's automated backups."""

    enabled: bool = False
    schedule: Cron = Field("30 4 * * *", description="Cron (UTC) of the daily export; after the backup window.")
    retention_days: int = Field(30, ge=1, le=3650)
    lock_retention: bool = Field(False, description="Lock the bucket's retention policy. Irreversible.")
    storage_class: Literal["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"] = "NEARLINE"
    serverless_export: bool = Field(True, description="Export from a temporary instance, not the primary.")


# The Workflow: one date-stamped, compressed SQL export per run; the connector waits for the operation.
# The one permission an export needs beyond reading the instance and its operations (Cloud SQL Viewer, below).
EXPORT_PERMISSIONS = ("cloudsql.instances.export",)

WORKFLOW = """\
main:
  params: [args]
  steps:
    - name:
        assign:
          - stamp: ${text.replace_all(text.replace_all(time.format(sys.now()), ":", ""), ".", "")}
          - uri: ${"gs://" + sys.get_env("BUCKET") + "/" + sys.get_env("DATABASE") + "/" + stamp + ".sql.gz"}
    - export:
        call: googleapis.sqladmin.v1.instances.export
        args:
          project: ${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
          instance: ${sys.get_env("INSTANCE")}
          body:
            exportContext:
              fileType: SQL
              uri: ${uri}
              databases: [${sys.get_env("DATABASE")}]
              offload: ${sys.get_env("OFFLOAD") == "true"}
    - done:
        return: ${uri}
"""


@dataclass
class SqlExportsArgs:
    config: BackupExportConfig
    project: str
    region: str
    instance_name: pulumi.Input[str]
    """The Cloud SQL instance to export."""
    instance_service_account: pulumi.Input[str]
    """The instance's own service account, which writes the export files."""
    database: str
    runner_email: pulumi.Input[str]
    """Identity the Workflow runs as and Scheduler triggers it with."""
    runner_member: pulumi.Input[str]


class SqlExports(GridComponent):
    _module = "backups"

    bucket: pulumi.Output[str]
    workflow: pulumi.Output[str]

    def __init__(self, name: str, args: SqlExportsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        retention_seconds = cfg.retention_days * 86400
        bucket = gcp.storage.Bucket(
            self.child_name("bucket"),
            project=args.project,
            location=args.region,
            storage_class=cfg.storage_class,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            retention_policy=gcp.storage.BucketRetentionPolicyArgs(
                retention_period=retention_seconds, is_locked=cfg.lock_retention
            ),
            # Objects can't go before the retention period anyway; delete them soon after it ends.
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=cfg.retention_days + 1),
                )
            ],
            force_destroy=False,
            opts=self.child_opts(protect=cfg.lock_retention),
        )
        gcp.storage.BucketIAMMember(
            self.child_name("sql-writes"),
            bucket=bucket.name,
            role="roles/storage.objectCreator",
            member=pulumi.Output.concat("serviceAccount:", args.instance_service_account),
            opts=self.child_opts(),
        )
        # The workflow reads the instance and polls the export operation (Cloud SQL Viewer, read-only).
        gcp.projects.IAMMember(
            self.child_name("runner-exports"),
            project=args.project,
            role="roles/cloudsql.viewer",
            member=args.runner_member,
            opts=self.child_opts(),
        )
        # Exporting needs only cloudsql.instances.export (Cloud SQL Editor would also let the runner reconfigure
        # or delete the instance), so a custom role holds that one permission — Google's documented alternative
        # to Cloud SQL Editor for exports:
        # https://cloud.google.com/sql/docs/postgres/import-export/import-export-sql#required_roles_and_permissions
        exporter = gcp.projects.IAMCustomRole(
            self.child_name("exporter-role"),
            project=args.project,
            role_id=self.child_name("exporter").replace("-", "_"),
            title="Grid SQL exporter",
            description="Export one Cloud SQL instance to Cloud Storage (cloudsql.instances.export only).",
            permissions=list(EXPORT_PERMISSIONS),
            opts=self.child_opts(),
        )
        gcp.projects.IAMMember(
            self.child_name("runner-export-instance"),
            project=args.project,
            role=exporter.name,
            member=args.runner_member,
            condition=gcp.projects.IAMMemberConditionArgs(
                title="only-the-exported-instance",
                expression=pulumi.Output.concat(
                    'resource.name == "projects/', args.project, "/instances/", args.instance_name, '"'
                ),
            ),
            opts=self.child_opts(),
        )
        workflow = gcp.workflows.Workflow(
            self.child_name("workflow"),
            project=args.project,
            region=args.region,
            description="Daily Cloud SQL export to the retention-locked bucket.",
            service_account=args.runner_email,
            source_contents=WORKFLOW,
            user_env_vars={
                "BUCKET": bucket.name,
                "INSTANCE": args.instance_name,
                "DATABASE": args.database,
                "OFFLOAD": "true" if cfg.serverless_export else "false",
            },
            deletion_protection=False,
            opts=self.child_opts(),
        )
        gcp.projects.IAMMember(
            self.child_name("runner-invokes"),
            project=args.project,
            role="roles/workflows.invoker",
            member=args.runner_member,
            condition=gcp.projects.IAMMemberConditionArgs(
                title="only-the-export-workflow",
                expression=pulumi.Output.concat('resource.name == "', workflow.id, '"'),
            ),
            opts=self.child_opts(),
        )
        Scheduler(
            self.child_name("schedule"),
            SchedulerArgs(
                project=args.project,
                region=args.region,
                jobs=[
                    ScheduledJobArgs(
                        name="daily",
                        schedule=cfg.schedule,
                        uri=pulumi.Output.concat(
                            "https://workflowexecutions.googleapis.com/v1/", workflow.id, "/executions"
                        ),
                        invoker_email=args.runner_email,
                        body="{}",
                        description="Runs the Cloud SQL export workflow.",
                        google_api=True,
                    )
                ],
            ),
            opts=self.child_opts(),
        )
        self.bucket = bucket.name
        self.workflow = workflow.id
        self.register_outputs({"bucket": self.bucket, "workflow": self.workflow})
