"""The Grid program: validate the stack's config, compose the components, export what operators need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components.audit import DataAccessAudit, DataAccessAuditArgs
from components.backups import SqlExports, SqlExportsArgs
from components.cache import Cache, CacheArgs
from components.database import Database, DatabaseArgs
from components.external import ExternalConfig
from components.identity import WorkloadIdentities, WorkloadIdentitiesArgs
from components.networking import Networking, NetworkingArgs
from components.project import ProjectServices, ProjectServicesArgs, ServiceAgents, ServiceAgentsArgs
from components.registry import Registry, RegistryArgs
from components.secrets import Secret, SecretArgs
from stacks.config import SECRET_KEYS, ConfigError, StackConfig, load_stack_config
from stacks.naming import Names
from stacks.runtime_config import current_config, source_file
from stacks.workloads import reading, secret_readers

APIS = (
    "compute.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com",
    "run.googleapis.com",
    "vpcaccess.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "logging.googleapis.com",
    "cloudtrace.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "eventarc.googleapis.com",
    "pubsub.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "apigateway.googleapis.com",
    "servicemanagement.googleapis.com",
    "servicecontrol.googleapis.com",
    "billingbudgets.googleapis.com",
    "workflows.googleapis.com",
    "workflowexecutions.googleapis.com",
)

# Google-managed agents the stack relies on, by API, with the project roles each must hold: Pub/Sub's agent is
# granted the dead-letter topic and subscriptions (components/messaging.py); Eventarc's creates the trigger of the
# Pub/Sub-triggered cost-cap function and needs its agent role for it
# (https://cloud.google.com/eventarc/docs/roles-permissions#service-agents).
SERVICE_AGENT_ROLES = {"pubsub.googleapis.com": (), "eventarc.googleapis.com": ("roles/eventarc.serviceAgent",)}
# Project-level roles with no resource-level equivalent: writing custom metrics, for each workload that exports them.
METRIC_WRITER = "roles/monitoring.metricWriter"


def project_roles(config: StackConfig) -> dict[str, tuple[str, ...]]:
    return {w.name: (METRIC_WRITER,) for w in config.workloads if w.exports_metrics}


def load() -> StackConfig:
    """The validated config of the running stack; bad config stops the program with one line per problem."""
    values, secret_keys = current_config()
    try:
        return load_stack_config(
            values,
            stack=pulumi.get_stack(),
            source=source_file(),
            secret_keys=secret_keys,
            root=Path(pulumi.get_root_directory()),
        )
    except ConfigError as exc:
        # RunError prints the message without a Python traceback.
        raise pulumi.RunError(str(exc)) from None


def stack_labels(config: StackConfig) -> dict[str, str]:
    labels = {
        "app": "grid",
        "environment": config.environment,
        "stack": config.name_prefix,
        "managed-by": "pulumi",
    }
    labels.update(config.labels)
    return labels


@dataclass
class Foundation:
    """What the serving layer builds on."""

    opts: pulumi.ResourceOptions
    names: Names
    identities: WorkloadIdentities
    network: Networking
    database: Database
    cache: Cache | None
    config_secrets: dict[str, Secret]
    config_secret_values: dict[str, pulumi.Output[str]]
    """Config secrets as (secret) outputs, for resources that need the value itself (channel credentials)."""
    registry: Registry
    outputs: dict[str, pulumi.Output | str | None]
    agents: ServiceAgents
    """Google-managed service agents, created (and granted their roles) before everything else."""


def foundation(config: StackConfig) -> Foundation:
    """Network, data stores, identities, secrets and registry for ``config``."""
    names = Names(config)
    labels = stack_labels(config)
    # Which workloads read what (the registry), each granted only what it reads.
    workloads = config.workloads
    runtime = [w.name for w in workloads if w.kind != "job"]
    provider = gcp.Provider(
        "gcp", project=config.project, region=config.region, default_labels=labels, add_pulumi_attribution_label=True
    )
    base = pulumi.ResourceOptions(providers=[provider])
    apis = ProjectServices(names("apis"), ProjectServicesArgs(project=config.project, apis=APIS), opts=base)
    agents = ServiceAgents(
        names("agents"),
        ServiceAgentsArgs(project=config.project, roles=SERVICE_AGENT_ROLES),
        opts=pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[apis])),
    )
    opts = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[apis, agents]))
    DataAccessAudit(names("audit"), DataAccessAuditArgs(project=config.project), opts=opts)

    identities = WorkloadIdentities(
        names("identity"),
        WorkloadIdentitiesArgs(
            project=config.project,
            accounts={w: names.service_account(w) for w in config.accounts},
            project_roles=project_roles(config),
            deployers=config.deployers,
            # ai enqueues deferred AI work as Cloud Tasks that call it back with the invoker's OIDC token.
            act_as={
                "invoker": tuple(w for w in ("ai",) if w in config.accounts),
                # Stopping a service (cost cap) is an update, which needs to act as its runtime identity.
                **({w: ("cost-cap",) for w in runtime} if config.monitoring.budget.caps_spend else {}),
            },
        ),
        opts=opts,
    )

    def readers(workloads: tuple[str, ...]) -> dict[str, pulumi.Output[str]]:
        return {w: identities.members[w] for w in workloads}

    network = Networking(
        names.network,
        NetworkingArgs(
            config=config.network,
            region=config.region,
            project=config.project,
            private_service_access=config.database.cloud_sql or config.cache.memorystore,
        ),
        opts=opts,
    )
    grid_config = pulumi.Config("grid")
    # A tagged rollout keeps serving the stable revision, which pins the secret versions it started with, until the
    # candidate is promoted: a replaced version must stay readable until then (docs/runbooks/rotate-secrets.md).
    keep_replaced = config.rollout.strategy == "tagged"
    database = Database(
        names.database,
        DatabaseArgs(
            config=config.database,
            project=config.project,
            region=config.region,
            access=network.private_access,
            url_secret_id=names.secret("database-url"),
            password_secret_id=names.secret("db-password"),
            accessors=readers(reading(workloads, "database")),
            labels={"component": "database"},
            external_url=_external_url(grid_config, config.database.external),
            keep_replaced_secret_versions=keep_replaced,
        ),
        opts=opts,
    )
    # Exports are of a Cloud SQL instance; an external provider backs up on its own (docs/external-datastores.md).
    if config.database.cloud_sql and config.database.exports.enabled:
        SqlExports(
            names("db-exports"),
            SqlExportsArgs(
                config=config.database.exports,
                project=config.project,
                region=config.region,
                instance_name=database.instance_name,
                instance_service_account=database.service_account,
                database=config.database.database_name,
                runner_email=identities.emails["backup"],
                runner_member=identities.members["backup"],
            ),
            opts=opts,
        )
    cache = None
    if config.cache.enabled:
        cache = Cache(
            names.cache,
            CacheArgs(
                config=config.cache,
                project=config.project,
                region=config.region,
                access=network.private_access,
                url_secret_id=names.secret("redis-url"),
                protect=config.environment == "prod",
                accessors=readers(reading(workloads, "cache")),
                labels={"component": "cache"},
                external_url=_external_url(grid_config, config.cache.external),
                keep_replaced_secret_versions=keep_replaced,
            ),
            opts=opts,
        )
    secret_values = {key: grid_config.require_secret(key) for key in sorted(config.secrets_present)}
    config_secrets = {}
    # Secrets a workload reads go to Secret Manager; channel credentials go only to their channel.
    secret_reader = {key: secret_readers(workloads, key) for key in SECRET_KEYS}
    for key in (k for k in secret_values if secret_reader[k]):
        config_secrets[key] = Secret(
            names(_kebab(key)),
            SecretArgs(
                secret_id=names.secret(_kebab(key)),
                value=secret_values[key],
                accessors=readers(secret_reader[key]),
                labels={"component": "secrets"},
                keep_replaced_versions=keep_replaced,
            ),
            opts=opts,
        )
    registry = Registry(
        names("registry"),
        RegistryArgs(
            config=config.registry, repository_id=names.repository, region=config.region, project=config.project
        ),
        opts=opts,
    )
    outputs = {
        "environment": config.environment,
        "networkId": network.network_id,
        "networkName": network.network_name,
        "subnetId": network.subnet_id,
        "egressAddresses": network.egress_addresses,
        "databaseInstance": database.instance_name,
        "databaseConnectionName": database.connection_name,
        "databaseReplicaConnectionName": database.replica_connection_name,
        "databaseUrlSecretId": database.url_secret.secret_id,
        "cacheHost": cache.host if cache else None,
        "cacheUrlSecretId": cache.url_secret.secret_id if cache else None,
        "configSecretIds": {k: s.secret_id for k, s in config_secrets.items()},
        "registryUrl": registry.url,
        "serviceAccounts": identities.emails,
    }
    return Foundation(
        opts, names, identities, network, database, cache, config_secrets, secret_values, registry, outputs, agents
    )


def _external_url(grid_config: pulumi.Config, external: ExternalConfig | None) -> pulumi.Output[str] | None:
    """The external store's URL as a Pulumi secret (checked when the config loaded: components/external.py)."""
    return grid_config.require_secret(external.url_secret) if external else None


def _kebab(camel: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in camel)


def build(config: StackConfig) -> dict[str, pulumi.Output | str | None]:
    """Compose every component for ``config``; returns the stack outputs."""
    from stacks.serving import serving

    base = foundation(config)
    return {**base.outputs, **serving(config, base)}


def main() -> None:
    config = load()
    for name, value in build(config).items():
        pulumi.export(name, value)
