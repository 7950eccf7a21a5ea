"""Engine-shaped (camelCase) inputs: one compliant resource per type, and per policy a violating
variant, a passing variant and the config to judge them under."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies import gcp
from tests.policies.harness import DELETE, tweak

CIS_FLAGS = [
    {"name": "log_error_verbosity", "value": "default"},
    {"name": "log_connections", "value": "on"},
    {"name": "log_disconnections", "value": "on"},
    {"name": "log_statement", "value": "ddl"},
    {"name": "log_min_messages", "value": "warning"},
    {"name": "log_min_error_statement", "value": "error"},
    {"name": "log_min_duration_statement", "value": "-1"},
    {"name": "cloudsql.enable_pgaudit", "value": "on"},
    {"name": "log_checkpoints", "value": "on"},
    {"name": "log_lock_waits", "value": "on"},
]

SQL = {
    "databaseVersion": "POSTGRES_16",
    "region": "us-central1",
    "deletionProtection": True,
    "settings": {
        "tier": "db-custom-2-7680",
        "availabilityType": "REGIONAL",
        "diskSize": 20,
        "diskAutoresizeLimit": 50,
        "deletionProtectionEnabled": True,
        "ipConfiguration": {
            "ipv4Enabled": False,
            "privateNetwork": "projects/p/global/networks/grid",
            "sslMode": "ENCRYPTED_ONLY",
        },
        "backupConfiguration": {
            "enabled": True,
            "pointInTimeRecoveryEnabled": True,
            "backupRetentionSettings": {"retainedBackups": 30},
        },
        "databaseFlags": CIS_FLAGS,
    },
}
REDIS = {
    "tier": "STANDARD_HA",
    "memorySizeGb": 1,
    "region": "us-central1",
    "authEnabled": True,
    "transitEncryptionMode": "SERVER_AUTHENTICATION",
    "connectMode": "PRIVATE_SERVICE_ACCESS",
    "authorizedNetwork": "projects/p/global/networks/grid",
}
IMAGE = "us-central1-docker.pkg.dev/p/grid/api@sha256:" + "a" * 64
SERVICE = {
    "name": "grid-api",
    "location": "us-central1",
    "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
    "labels": {"grid-service": "api"},
    "template": {
        "serviceAccount": "grid-api@p.iam.gserviceaccount.com",
        "scaling": {"minInstanceCount": 0, "maxInstanceCount": 3},
        "containers": [
            {
                "image": IMAGE,
                "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "cpuIdle": True},
                "envs": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {
                        "name": "DATABASE_PASSWORD",
                        "valueSource": {"secretKeyRef": {"secret": "db-password", "version": "latest"}},
                    },
                ],
            }
        ],
    },
}
JOB = {
    "location": "us-central1",
    "template": {
        "taskCount": 1,
        "template": {
            "serviceAccount": "grid-migrate@p.iam.gserviceaccount.com",
            "containers": [{"image": IMAGE, "envs": [{"name": "MODE", "value": "migrate"}]}],
        },
    },
}
FUNCTION = {
    "name": "korean-nlp",
    "location": "us-central1",
    "serviceConfig": {
        "serviceAccountEmail": "grid-fn@p.iam.gserviceaccount.com",
        "ingressSettings": "ALLOW_INTERNAL_AND_GCLB",
        "availableMemory": "256M",
        "maxInstanceCount": 5,
        "minInstanceCount": 0,
        "environmentVariables": {"LOG_LEVEL": "info"},
        "secretEnvironmentVariables": [{"key": "API_TOKEN", "projectId": "p", "secret": "token", "version": "latest"}],
    },
}
BUCKET = {"location": "US-CENTRAL1", "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced"}
SUBNET = {
    "ipCidrRange": "10.0.0.0/20",
    "region": "us-central1",
    "privateIpGoogleAccess": True,
    "logConfig": {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5},
}
FIREWALL = {
    "network": "grid",
    "direction": "INGRESS",
    "sourceRanges": ["35.235.240.0/20"],
    "allows": [{"protocol": "tcp", "ports": ["22"]}],
}
CONNECTOR = {"region": "us-central1", "machineType": "e2-micro", "minInstances": 2, "maxInstances": 3}


@dataclass(frozen=True)
class Case:
    policy: str
    type: str
    bad: dict[str, Any]
    good: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    name: str = "r"
    good_type: str | None = None  # when passing means "a different resource" (e.g. no key at all)
    good_config: dict[str, Any] | None = None  # when passing means "an environment that allows it"


def flag_case(policy: str, flag: str, bad_value: str) -> Case:
    flags = [f if f["name"] != flag else {"name": flag, "value": bad_value} for f in CIS_FLAGS]
    return Case(policy, gcp.SQL_INSTANCE, tweak(SQL, {"settings.databaseFlags": flags}), SQL)


def iam(member: str, role: str = "roles/viewer", **extra: Any) -> dict[str, Any]:
    return {"role": role, "member": member, **extra}


RESOURCE_CASES: list[Case] = [
    Case("sql-no-public-ip", gcp.SQL_INSTANCE, tweak(SQL, {"settings.ipConfiguration.ipv4Enabled": DELETE}), SQL),
    Case(
        "sql-no-open-authorized-networks",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.ipConfiguration.authorizedNetworks": [{"name": "all", "value": "0.0.0.0/0"}]}),
        tweak(SQL, {"settings.ipConfiguration.authorizedNetworks": [{"name": "office", "value": "203.0.113.0/24"}]}),
    ),
    Case(
        "sql-ssl-required",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.ipConfiguration.sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}),
        tweak(SQL, {"settings.ipConfiguration.sslMode": "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"}),
    ),
    Case(
        "sql-backups-enabled",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.backupConfiguration.enabled": False}),
        tweak(SQL, {"masterInstanceName": "grid-db", "settings.backupConfiguration": DELETE}),
    ),
    Case(
        "sql-point-in-time-recovery",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.backupConfiguration.pointInTimeRecoveryEnabled": DELETE}),
        SQL,
    ),
    Case(
        "sql-deletion-protection",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"deletionProtection": False}),
        tweak(SQL, {"deletionProtection": DELETE}),
    ),
    flag_case("sql-log-error-verbosity", "log_error_verbosity", "terse"),
    flag_case("sql-log-connections", "log_connections", "off"),
    flag_case("sql-log-disconnections", "log_disconnections", "off"),
    flag_case("sql-log-statement", "log_statement", "none"),
    flag_case("sql-log-min-messages", "log_min_messages", "error"),
    flag_case("sql-log-min-error-statement", "log_min_error_statement", "fatal"),
    flag_case("sql-log-min-duration-statement", "log_min_duration_statement", "500"),
    flag_case("sql-pgaudit-enabled", "cloudsql.enable_pgaudit", "off"),
    Case("redis-auth-enabled", gcp.REDIS_INSTANCE, tweak(REDIS, {"authEnabled": DELETE}), REDIS),
    Case("redis-transit-encryption", gcp.REDIS_INSTANCE, tweak(REDIS, {"transitEncryptionMode": "DISABLED"}), REDIS),
    Case("redis-private-connectivity", gcp.REDIS_INSTANCE, tweak(REDIS, {"connectMode": "DIRECT_PEERING"}), REDIS),
    Case(
        "workload-no-plaintext-secrets",
        gcp.RUN_SERVICE,
        tweak(
            SERVICE,
            {
                "template.containers": [
                    {
                        "image": IMAGE,
                        "envs": [{"name": "DATABASE_URL", "value": "postgresql://grid:hunter2@10.0.0.3/grid"}],
                    }
                ]
            },
        ),
        tweak(
            SERVICE,
            {
                "template.containers": [
                    {
                        "image": IMAGE,
                        "envs": [
                            {"name": "DATABASE_URL", "value": "postgresql://10.0.0.3/grid"},
                            {"name": "CACHE_TTL_SECONDS", "value": "60"},
                        ],
                    }
                ]
            },
        ),
    ),
    # A URL without inline credentials (Upstash's password can sit in a query string) slips past the rule above.
    Case(
        "datastore-url-is-secret",
        gcp.RUN_SERVICE,
        tweak(
            SERVICE,
            {
                "template.containers": [
                    {"image": IMAGE, "envs": [{"name": "REDIS_URL", "value": "rediss://cache.upstash.io:6379"}]}
                ]
            },
        ),
        tweak(
            SERVICE,
            {
                "template.containers": [
                    {
                        "image": IMAGE,
                        "envs": [
                            {
                                "name": "REDIS_URL",
                                "valueSource": {"secretKeyRef": {"secret": "redis-url", "version": "1"}},
                            }
                        ],
                    }
                ]
            },
        ),
    ),
    Case(
        "datastore-url-is-secret",
        gcp.FUNCTION,
        {"name": "f", "serviceConfig": {"environmentVariables": {"DATABASE_URL": "postgresql://db.example/grid"}}},
        {"name": "f", "serviceConfig": {"environmentVariables": {"LOG_LEVEL": "INFO"}}},
    ),
    Case(
        "workload-dedicated-service-account",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.serviceAccount": "123-compute@developer.gserviceaccount.com"}),
        SERVICE,
    ),
    Case("serverless-ingress-restricted", gcp.RUN_SERVICE, tweak(SERVICE, {"ingress": DELETE}), SERVICE),
    Case(
        "workload-image-pinned-by-digest",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.containers": [{"image": "us-docker.pkg.dev/p/grid/api:latest"}]}),
        SERVICE,
    ),
    Case("bucket-uniform-access", gcp.BUCKET, tweak(BUCKET, {"uniformBucketLevelAccess": False}), BUCKET),
    Case("bucket-public-access-prevention", gcp.BUCKET, tweak(BUCKET, {"publicAccessPrevention": "inherited"}), BUCKET),
    Case(
        "bucket-iam-not-public",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        iam("allUsers", "roles/storage.objectViewer", bucket="b"),
        iam("serviceAccount:cdn@p.iam.gserviceaccount.com", "roles/storage.objectViewer", bucket="b"),
    ),
    Case(
        "iam-no-basic-roles",
        "gcp:projects/iAMMember:IAMMember",
        iam("user:dev@example.com", "roles/editor", project="p"),
        iam("serviceAccount:a@p.iam.gserviceaccount.com", "roles/cloudsql.client", project="p"),
    ),
    Case(
        "iam-no-project-impersonation",
        "gcp:projects/iAMBinding:IAMBinding",
        {"project": "p", "role": "roles/iam.serviceAccountUser", "members": ["group:ops@example.com"]},
        {"project": "p", "role": "roles/logging.logWriter", "members": ["group:ops@example.com"]},
    ),
    Case(
        "iam-no-service-account-keys",
        gcp.SERVICE_ACCOUNT_KEY,
        {"serviceAccountId": "a"},
        {"accountId": "grid-api"},
        good_type="gcp:serviceaccount/account:Account",
    ),
    Case("network-custom-subnets", gcp.NETWORK, {"name": "grid"}, {"name": "grid", "autoCreateSubnetworks": False}),
    Case("subnet-private-google-access", gcp.SUBNETWORK, tweak(SUBNET, {"privateIpGoogleAccess": False}), SUBNET),
    Case(
        "subnet-flow-logs",
        gcp.SUBNETWORK,
        tweak(SUBNET, {"logConfig": DELETE}),
        tweak(SUBNET, {"logConfig": DELETE, "purpose": "REGIONAL_MANAGED_PROXY"}),
    ),
    Case(
        "firewall-no-public-ssh",
        gcp.FIREWALL,
        tweak(FIREWALL, {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["20-25"]}]}),
        FIREWALL,
    ),
    Case(
        "firewall-no-public-rdp",
        gcp.FIREWALL,
        tweak(FIREWALL, {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "all"}]}),
        tweak(FIREWALL, {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["443"]}]}),
    ),
    Case(
        "ssl-policy-modern-tls",
        gcp.SSL_POLICY,
        {"profile": "COMPATIBLE"},
        {"profile": "MODERN", "minTlsVersion": "TLS_1_2"},
    ),
    Case("https-proxy-ssl-policy", gcp.TARGET_HTTPS_PROXY, {"urlMap": "m"}, {"urlMap": "m", "sslPolicy": "grid-tls"}),
    Case(
        "backend-cloud-armor",
        gcp.BACKEND_SERVICE,
        {"loadBalancingScheme": "EXTERNAL_MANAGED"},
        {"loadBalancingScheme": "EXTERNAL_MANAGED", "securityPolicy": "grid-armor"},
    ),
    Case(
        "secret-iam-not-public",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        iam("allAuthenticatedUsers", "roles/secretmanager.secretAccessor", secretId="s"),
        iam("serviceAccount:api@p.iam.gserviceaccount.com", "roles/secretmanager.secretAccessor", secretId="s"),
    ),
    Case(
        "pubsub-iam-not-public",
        "gcp:pubsub/topicIAMPolicy:TopicIAMPolicy",
        {"topic": "t", "policyData": '{"bindings":[{"role":"roles/pubsub.publisher","members":["allUsers"]}]}'},
        {
            "topic": "t",
            "policyData": '{"bindings":[{"role":"roles/pubsub.publisher",'
            '"members":["serviceAccount:api@p.iam.gserviceaccount.com"]}]}',
        },
    ),
    Case(
        "registry-iam-not-public",
        "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
        {"repository": "r", "role": "roles/artifactregistry.reader", "members": ["allUsers"]},
        {"repository": "r", "role": "roles/artifactregistry.reader", "members": ["group:dev@example.com"]},
    ),
    Case(
        "pubsub-push-authenticated",
        gcp.PUBSUB_SUBSCRIPTION,
        {"topic": "t", "pushConfig": {"pushEndpoint": "https://fn.run.app/"}},
        {
            "topic": "t",
            "pushConfig": {
                "pushEndpoint": "https://fn.run.app/",
                "oidcToken": {"serviceAccountEmail": "push@p.iam.gserviceaccount.com"},
            },
        },
    ),
    Case(
        "scheduler-http-authenticated",
        gcp.SCHEDULER_JOB,
        {"schedule": "0 * * * *", "httpTarget": {"uri": "https://fn.run.app/"}},
        {
            "schedule": "0 * * * *",
            "httpTarget": {
                "uri": "https://fn.run.app/",
                "oidcToken": {"serviceAccountEmail": "s@p.iam.gserviceaccount.com"},
            },
        },
    ),
    # Reliability
    Case("reliability-sql-regional", gcp.SQL_INSTANCE, tweak(SQL, {"settings.availabilityType": "ZONAL"}), SQL),
    Case(
        "reliability-sql-backup-retention",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.backupConfiguration.backupRetentionSettings": DELETE}),
        SQL,
        {"minRetainedBackups": 30},
    ),
    Case("reliability-redis-standard-ha", gcp.REDIS_INSTANCE, tweak(REDIS, {"tier": "BASIC"}), REDIS),
    Case(
        "reliability-run-min-instances",
        gcp.RUN_SERVICE,
        SERVICE,
        tweak(SERVICE, {"template.scaling.minInstanceCount": 2}),
        {"minInstances": 2, "services": ["api", "auth"]},
    ),
    # Cost (configs as in policies/config/<environment>.json)
    Case(
        "cost-sql-tier",
        gcp.SQL_INSTANCE,
        SQL,
        tweak(SQL, {"settings.tier": "db-f1-micro"}),
        {"allowedTiers": ["db-f1-micro", "db-g1-small"], "maxVcpus": 1},
    ),
    Case(
        "cost-sql-high-availability",
        gcp.SQL_INSTANCE,
        SQL,
        tweak(SQL, {"settings.availabilityType": "ZONAL"}),
        {"allowRegional": False},
    ),
    Case(
        "cost-sql-read-replicas",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"masterInstanceName": "grid-db"}),
        SQL,
        {"allowReplicas": False},
    ),
    Case(
        "cost-sql-disk-size",
        gcp.SQL_INSTANCE,
        tweak(SQL, {"settings.diskAutoresizeLimit": DELETE}),
        SQL,
        {"maxDiskGb": 50},
    ),
    Case("cost-redis-tier", gcp.REDIS_INSTANCE, REDIS, tweak(REDIS, {"tier": "BASIC"}), {"allowedTiers": ["BASIC"]}),
    Case("cost-redis-memory", gcp.REDIS_INSTANCE, tweak(REDIS, {"memorySizeGb": 5}), REDIS, {"maxMemoryGb": 1}),
    Case(
        "cost-run-max-instances",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.scaling.maxInstanceCount": DELETE}),
        SERVICE,
        {"maxInstances": 3},
    ),
    Case(
        "cost-function-max-instances",
        gcp.FUNCTION,
        tweak(FUNCTION, {"serviceConfig.maxInstanceCount": 50}),
        FUNCTION,
        {"maxInstances": 5},
    ),
    Case(
        "cost-warm-instances",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.scaling.minInstanceCount": 1}),
        SERVICE,
        {"maxMinInstances": 0},
    ),
    Case(
        "cost-gpu",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.nodeSelector": {"accelerator": "nvidia-l4"}}),
        SERVICE,
        {"allowGpu": False},
    ),
    Case(
        "cost-cpu-always-allocated",
        gcp.RUN_SERVICE,
        tweak(SERVICE, {"template.containers": [{"image": IMAGE, "resources": {"cpuIdle": False}}]}),
        SERVICE,
        {"allowAlwaysAllocated": False},
    ),
    Case(
        "cost-instance-size",
        gcp.RUN_SERVICE,
        tweak(
            SERVICE, {"template.containers": [{"image": IMAGE, "resources": {"limits": {"cpu": "4", "memory": "8Gi"}}}]}
        ),
        SERVICE,
        {"maxCpu": 2, "maxMemoryGib": 4},
    ),
    Case(
        "cost-vpc-connector",
        gcp.VPC_CONNECTOR,
        tweak(CONNECTOR, {"machineType": "e2-standard-4", "maxInstances": DELETE}),
        CONNECTOR,
        {"allowedMachineTypes": ["e2-micro"], "maxInstances": 3, "maxMinInstances": 2},
    ),
    Case(
        "cost-cloud-armor-enterprise",
        gcp.CLOUD_ARMOR_TIER,
        {"cloudArmorTier": "CA_ENTERPRISE_PAYGO"},
        {"cloudArmorTier": "CA_STANDARD"},
        {"allowEnterprise": False},
    ),
]

# Rules mirroring Checkov checks keep their fixtures in their own module.
from tests.policies.scanner_parity_fixtures import PARITY_RESOURCE_CASES  # noqa: E402

RESOURCE_CASES += PARITY_RESOURCE_CASES
