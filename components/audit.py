"""Data Access audit logs for the services that hold Grid's data: who read the database, its dumps, its secrets.

Admin Activity logs are always on; Data Access logs are off by default except for BigQuery
(https://cloud.google.com/logging/docs/audit/configure-data-access). Grid turns them on for Cloud SQL (Admin API
reads and exports), Secret Manager (every secret read) and Cloud Storage (reads of the SQL dumps). Google
recommends these audit logs over Cloud Storage usage logs for tracking access to objects
(https://cloud.google.com/storage/docs/access-logs). Not ``allServices``: that would also log every Cloud Run, Pub/Sub
and Monitoring read, billed as Logging volume, without telling more about the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components._base import GridComponent

# The services whose data Grid keeps, and the log types that record reads and writes of it.
AUDITED_SERVICES = ("cloudsql.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com")
LOG_TYPES = ("ADMIN_READ", "DATA_READ", "DATA_WRITE")


@dataclass
class DataAccessAuditArgs:
    project: str
    services: Sequence[str] = AUDITED_SERVICES


class DataAccessAudit(GridComponent):
    """One project IAM audit config per service, every log type, no exempted members."""

    _module = "audit"

    def __init__(self, name: str, args: DataAccessAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        for service in sorted(set(args.services)):
            gcp.projects.IAMAuditConfig(
                self.child_name(service.split(".", 1)[0]),
                project=args.project,
                service=service,
                audit_log_configs=[gcp.projects.IAMAuditConfigAuditLogConfigArgs(log_type=t) for t in LOG_TYPES],
                opts=self.child_opts(),
            )
        self.register_outputs({"services": sorted(set(args.services))})
