"""The predefined roles each CI identity gets, and why. Reviewed here, in one place, rather than configured.

No basic role (owner/editor/viewer) and no project-wide Service Account User or Token Creator: the policy pack
forbids them (iam-no-basic-roles, iam-no-project-impersonation). Deploying a Cloud Run service or job *as* a
workload account needs ``iam.serviceAccounts.actAs`` on that one account, so Grid's stack grants its deployer
``roles/iam.serviceAccountUser`` on each workload account it creates, not here (see docs/getting-started.md).
"""

from __future__ import annotations

# `pulumi preview` reads state (bucket) and decrypts config (key); `preview --refresh` and data sources also
# read the live resources. Each line is the narrowest read-only role for one service Grid manages.
PREVIEWER_PROJECT_ROLES: tuple[str, ...] = (
    "roles/browser",  # resourcemanager.projects.get: the provider's project lookups
    "roles/iam.securityReviewer",  # read IAM policies on the project and every resource, change none
    "roles/serviceusage.serviceUsageViewer",  # which APIs are enabled
    "roles/run.viewer",
    "roles/cloudfunctions.viewer",
    "roles/cloudsql.viewer",
    "roles/redis.viewer",
    "roles/compute.viewer",  # networks, NAT, load balancer, Cloud Armor, SSL policies: metadata, no data
    "roles/vpcaccess.viewer",
    "roles/secretmanager.viewer",  # secret metadata; never `secretAccessor`, so no secret payloads
    "roles/artifactregistry.reader",
    "roles/pubsub.viewer",
    "roles/cloudscheduler.viewer",
    "roles/cloudtasks.viewer",
    "roles/monitoring.viewer",
    "roles/logging.viewer",  # log-based metric definitions
    "roles/workflows.viewer",
    "roles/apigateway.viewer",
    "roles/storage.bucketViewer",  # bucket settings of the backup and source buckets, not their objects
    "roles/iam.serviceAccountViewer",
)
PREVIEWER_BUCKET_ROLE = "roles/storage.objectViewer"
PREVIEWER_KEY_ROLE = "roles/cloudkms.cryptoKeyDecrypter"
# The DIY backend takes a lock object for a preview too; the previewer may write under this prefix only.
PULUMI_LOCK_PREFIX = ".pulumi/locks/"

# `pulumi up` of Grid's program creates and changes everything it declares. One admin-level predefined role
# per service it manages, granted in that environment's project only.
DEPLOYER_PROJECT_ROLES: tuple[str, ...] = (
    "roles/serviceusage.serviceUsageAdmin",  # the program enables its APIs (components/project.py)
    "roles/iam.serviceAccountAdmin",  # workload accounts, and the act-as grants on them
    "roles/resourcemanager.projectIamAdmin",  # the few project-level workload roles (e.g. metricWriter)
    "roles/iam.roleAdmin",  # the SQL exporter's one-permission custom role (components/backups.py)
    "roles/run.admin",
    "roles/cloudfunctions.admin",
    "roles/cloudsql.admin",
    "roles/redis.admin",
    "roles/compute.networkAdmin",  # VPC, subnet, router, NAT, addresses
    "roles/compute.loadBalancerAdmin",  # backends, NEGs, URL maps, proxies, forwarding rules
    "roles/compute.securityAdmin",  # firewall rules, SSL policies and certificates, Cloud Armor
    "roles/servicenetworking.networksAdmin",  # private services access for Cloud SQL and Memorystore
    "roles/vpcaccess.admin",
    "roles/secretmanager.admin",
    "roles/artifactregistry.admin",  # the repository, its cleanup policies, and pushing the built images
    "roles/pubsub.admin",
    "roles/cloudscheduler.admin",
    "roles/cloudtasks.admin",
    "roles/monitoring.editor",  # alert policies, uptime checks, dashboards, channels, SLOs
    "roles/logging.configWriter",  # log-based metrics
    "roles/workflows.admin",
    "roles/apigateway.admin",
    "roles/storage.admin",  # backup and function-source buckets in the environment's project
)
DEPLOYER_BUCKET_ROLE = "roles/storage.objectAdmin"
DEPLOYER_KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Budgets belong to the billing account, not the project.
DEPLOYER_BILLING_ROLE = "roles/billing.costsManager"
