"""The grid-bootstrap program: state bucket, secrets key, APIs, GitHub federation and the CI identities."""

from __future__ import annotations

import pulumi

from bootstrap import roles
from bootstrap.config import BootstrapConfig, deployer_account, load_bootstrap_config
from components.audit import DataAccessAudit, DataAccessAuditArgs
from components.bootstrap import (
    CiIdentity,
    CiIdentityArgs,
    GithubFederation,
    GithubFederationArgs,
    StateBackend,
    StateBackendArgs,
)
from components.project import ProjectServices, ProjectServicesArgs
from gridlib.config_errors import ConfigError
from stacks.runtime_config import current_config, source_file

LABELS = {"app": "grid", "component": "bootstrap", "managed-by": "pulumi"}
PREVIEWER_ACCOUNT = "grid-previewer"


def load() -> BootstrapConfig:
    values, secret_keys = current_config()
    try:
        return load_bootstrap_config(values, source=source_file(), secret_keys=secret_keys)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None  # printed without a Python traceback


def main() -> None:
    config = load()
    apis = {
        project: ProjectServices(f"apis-{project}", ProjectServicesArgs(project=project, apis=config.apis_for(project)))
        for project in config.projects
    }
    after_apis = pulumi.ResourceOptions(depends_on=list(apis.values()))
    backend = StateBackend(
        "pulumi",
        StateBackendArgs(
            project=config.project,
            bucket_name=config.state_bucket.name,
            bucket_location=config.bucket_location,
            noncurrent_version_days=config.state_bucket.noncurrent_version_days,
            noncurrent_versions_kept=config.state_bucket.noncurrent_versions_kept,
            soft_delete_days=config.state_bucket.soft_delete_days,
            kms_location=config.kms_location,
            key_ring=config.secrets_key.key_ring,
            key_name=config.secrets_key.name,
            rotation_days=config.secrets_key.rotation_days,
            labels=LABELS,
        ),
        opts=after_apis,
    )
    # Who read the state (it holds every stack's encrypted secrets) and who used the key that decrypts them.
    DataAccessAudit(
        "audit",
        DataAccessAuditArgs(project=config.project, services=("storage.googleapis.com", "cloudkms.googleapis.com")),
        opts=after_apis,
    )
    github = config.github
    federation = GithubFederation(
        "github",
        GithubFederationArgs(
            project=config.project,
            pool_id=github.pool_id,
            provider_id=github.provider_id,
            repository=github.repository,
            owner_id=github.owner_id,
        ),
        opts=after_apis,
    )
    previewer = CiIdentity(
        "previewer",
        CiIdentityArgs(
            project=config.project,
            account_id=PREVIEWER_ACCOUNT,
            description=f"Read-only: pulumi preview of every Grid stack from any workflow run of {github.repository}.",
            principals=[federation.repository_principals(github.repository)],
            project_roles={e.project: roles.PREVIEWER_PROJECT_ROLES for e in config.environments.values()},
            state_bucket=backend.bucket_name,
            bucket_role=roles.PREVIEWER_BUCKET_ROLE,
            secrets_key=backend.key_id,
            key_role=roles.PREVIEWER_KEY_ROLE,
            lock_prefix=roles.PULUMI_LOCK_PREFIX,
        ),
        opts=after_apis,
    )
    deployers: dict[str, pulumi.Output[str]] = {}
    for name, environment in sorted(config.environments.items()):
        if environment.github_environment is None:
            continue
        deployer = CiIdentity(
            f"deployer-{name}",
            CiIdentityArgs(
                project=config.project,
                account_id=deployer_account(name),
                description=f"pulumi up of the {name} stack, only from GitHub environment "
                f"'{environment.github_environment}' on {github.deploy_branch} of {github.repository}.",
                principals=[
                    federation.deployment_principals(
                        github.repository, environment.github_environment, github.deploy_branch
                    )
                ],
                project_roles={environment.project: roles.DEPLOYER_PROJECT_ROLES},
                state_bucket=backend.bucket_name,
                bucket_role=roles.DEPLOYER_BUCKET_ROLE,
                secrets_key=backend.key_id,
                key_role=roles.DEPLOYER_KEY_ROLE,
                billing_account=config.billing_account,
                billing_role=roles.DEPLOYER_BILLING_ROLE,
            ),
            opts=after_apis,
        )
        deployers[name] = deployer.email

    pulumi.export("stateBucket", backend.bucket_name)
    pulumi.export("backendUrl", backend.backend_url)
    pulumi.export("loginCommand", backend.backend_url.apply(lambda url: f"pulumi login {url}"))
    pulumi.export("secretsProvider", backend.secrets_provider)
    pulumi.export(
        "stackInitCommand",
        backend.secrets_provider.apply(lambda p: f"pulumi stack init <stack> --secrets-provider {p}"),
    )
    pulumi.export("workloadIdentityProvider", federation.provider_name)
    pulumi.export("previewerServiceAccount", previewer.email)
    pulumi.export("deployerServiceAccounts", deployers)
