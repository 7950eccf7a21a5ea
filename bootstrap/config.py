"""Typed config of the grid-bootstrap project, validated like Grid's own stack files.

Keys live under the ``grid-bootstrap:`` namespace of ``bootstrap/Pulumi.<stack>.yaml`` (plus ``gcp:project``,
the operations project that holds the state bucket, the key and the CI identities, and ``gcp:region``).
Bad config is one line per problem naming the file and key, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from gridlib import gcp_limits
from gridlib.config_base import ConfigModel, decode_config_value
from gridlib.config_errors import ConfigError, format_validation_error, suggest
from gridlib.gcp_types import BillingAccount, ProjectId, Region

NAMESPACE = "grid-bootstrap"

# https://cloud.google.com/storage/docs/buckets#naming (dots allowed only for domain-verified names: not here)
_BUCKET = re.compile(r"^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$")
# https://cloud.google.com/storage/docs/locations
_BUCKET_MULTI_REGIONS = frozenset({"US", "EU", "ASIA", "NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8"})
# https://cloud.google.com/kms/docs/locations
_KMS_MULTI_REGIONS = frozenset({"global", "us", "europe", "asia"})
# https://cloud.google.com/iam/docs/reference/rest/v1/projects.locations.workloadIdentityPools/create
_POOL_ID = re.compile(r"^(?!gcp-)[a-z0-9-]{4,32}$")
_KMS_ID = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_GITHUB_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}(?<!/)$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,17}$")
# google.subject is capped at 127 bytes; Grid maps it from the token's `sub` claim.
_MAX_SUBJECT = 127

# The operations project runs the token exchange (sts), impersonation (iamcredentials), the key and the bucket.
OPS_APIS = (
    "cloudkms.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
)
# An environment's project needs only what lets the deployer's first `pulumi up` enable the rest itself
# (stacks/program.py APIS): project lookups, the Service Usage API, and IAM.
ENVIRONMENT_APIS = (
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "serviceusage.googleapis.com",
)


_Model = ConfigModel


class GithubConfig(_Model):
    """The one repository whose GitHub Actions runs may exchange their OIDC token for Google credentials."""

    repository: str = Field(description="owner/name, exactly as in the token's `repository` claim.")
    owner_id: str | None = Field(
        None,
        description="Numeric ID of the owner (`repository_owner_id` claim): survives an org rename and stops a "
        "re-registered org name from inheriting access. Find it with `gh api orgs/<owner> --jq .id`.",
    )
    deploy_branch: str = Field("main", description="Only runs on this branch may impersonate a deployer.")
    pool_id: str = "github"
    provider_id: str = "github-actions"

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _GITHUB_REPO.match(value):
            raise ValueError(f"'{value}' is not a GitHub repository (owner/name)")
        return value

    @field_validator("owner_id")
    @classmethod
    def _owner_id(cls, value: str | None) -> str | None:
        if value is not None and not value.isdigit():
            raise ValueError(f"'{value}' is not a numeric GitHub owner ID")
        return value

    @field_validator("deploy_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not _BRANCH.match(value):
            raise ValueError(f"'{value}' is not a branch name")
        return value

    @field_validator("pool_id", "provider_id")
    @classmethod
    def _pool_ids(cls, value: str) -> str:
        if not _POOL_ID.match(value):
            raise ValueError(f"'{value}' must be 4-32 lowercase letters, digits or -, not starting with gcp-")
        return value


class StateBucketConfig(_Model):
    """The bucket `pulumi login gs://<name>` points at."""

    name: str = Field(description="Globally unique bucket name.")
    location: str | None = Field(None, description="A region or multi-region (US, EU, ...); default gcp:region.")
    noncurrent_version_days: int = Field(
        90, ge=1, le=3650, description="Days an overwritten state file is kept: how far back a state restore can go."
    )
    noncurrent_versions_kept: int = Field(
        100, ge=1, le=10000, description="Newest overwritten versions of each file always kept, whatever their age."
    )
    soft_delete_days: int = Field(7, ge=7, le=90, description="Days a deleted object stays recoverable.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _BUCKET.match(value) or value.startswith("goog") or "google" in value:
            raise ValueError(
                f"'{value}' is not a bucket name (3-63 lowercase letters, digits, - and _; no 'goog' prefix)"
            )
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and value not in gcp_limits.REGIONS and value not in _BUCKET_MULTI_REGIONS:
            options = sorted(gcp_limits.REGIONS | _BUCKET_MULTI_REGIONS)
            raise ValueError(f"unknown bucket location '{value}'{suggest(value, options)}")
        return value


class SecretsKeyConfig(_Model):
    """The Cloud KMS key Pulumi encrypts each stack's data key with (`--secrets-provider gcpkms://...`)."""

    location: str | None = Field(None, description="KMS location; default gcp:region.")
    key_ring: str = "pulumi"
    name: str = "pulumi-secrets"
    rotation_days: int = Field(
        90, ge=1, le=36500, description="A new primary version this often; old versions still decrypt."
    )

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and value not in gcp_limits.REGIONS and value not in _KMS_MULTI_REGIONS:
            options = sorted(gcp_limits.REGIONS | _KMS_MULTI_REGIONS)
            raise ValueError(f"unknown Cloud KMS location '{value}'{suggest(value, options)}")
        return value

    @field_validator("key_ring", "name")
    @classmethod
    def _ids(cls, value: str) -> str:
        if not _KMS_ID.match(value):
            raise ValueError(f"'{value}' must be 1-63 letters, digits, _ or -")
        return value


class EnvironmentConfig(_Model):
    """One Grid environment: the project its stack deploys into and who may deploy it from CI."""

    project: ProjectId
    github_environment: str | None = Field(
        None,
        description="GitHub environment whose jobs (on the deploy branch) may impersonate this environment's "
        "deployer; leave unset for an environment CI only previews (e.g. dev, deployed by developers).",
    )

    @field_validator("github_environment")
    @classmethod
    def _github_environment(cls, value: str | None) -> str | None:
        if value is not None and not _GITHUB_ENVIRONMENT.match(value):
            raise ValueError(f"'{value}' must be letters, digits, _, . or - (it becomes part of the OIDC subject)")
        return value


class BootstrapConfig(_Model):
    """Everything one bootstrap stack creates. ``project``/``region`` come from ``gcp:project``/``gcp:region``."""

    project: ProjectId
    region: Region = "us-central1"
    github: GithubConfig
    state_bucket: StateBucketConfig
    secrets_key: SecretsKeyConfig = SecretsKeyConfig()
    environments: dict[str, EnvironmentConfig]
    apis: list[str] = Field(default_factory=list, description="More APIs to enable, in every project.")
    billing_account: BillingAccount | None = Field(
        None, description="Billing account the deployers may manage budgets on (roles/billing.costsManager)."
    )
    budget_monthly_usd: float | None = Field(None, gt=0, description="What `grid plan` compares this stack's cost to.")

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        if not value:
            raise ValueError("name at least one environment and its project")
        for name, environment in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"'{name}' must be 1-18 lowercase letters, digits or -, starting with a letter")
            # Google would refuse the deployer's account only at `pulumi up`, after the state bucket and the
            # key were created: refused here, with the config.
            account = deployer_account(name)
            if environment.github_environment and (problem := gcp_limits.name_problem("service_account_id", account)):
                raise ValueError(
                    f"'{name}': its deployer's service account ID {problem}: use a shorter environment name"
                )
        return value

    @field_validator("apis")
    @classmethod
    def _apis(cls, value: list[str]) -> list[str]:
        for api in value:
            if not re.match(r"^[a-z][a-z0-9.-]*\.googleapis\.com$", api):
                raise ValueError(f"'{api}' is not a Google API service name (like run.googleapis.com)")
        return value

    @model_validator(mode="after")
    def _subjects_fit(self) -> BootstrapConfig:
        for name, environment in self.environments.items():
            subject = deployer_subject(self.github.repository, environment.github_environment or "")
            if environment.github_environment and len(subject.encode()) > _MAX_SUBJECT:
                raise ValueError(
                    f"{NAMESPACE}:environments.{name}.githubEnvironment: the OIDC subject '{subject}' is longer "
                    f"than Google's {_MAX_SUBJECT}-byte limit; use a shorter environment name"
                )
        return self

    @property
    def bucket_location(self) -> str:
        return self.state_bucket.location or self.region

    @property
    def kms_location(self) -> str:
        return self.secrets_key.location or self.region

    @property
    def projects(self) -> list[str]:
        """Every project this bootstrap touches: the operations project first, then each environment's."""
        return list(dict.fromkeys([self.project, *(e.project for e in self.environments.values())]))

    def apis_for(self, project: str) -> list[str]:
        base = OPS_APIS if project == self.project else ENVIRONMENT_APIS
        return sorted(set(base) | set(self.apis))


def deployer_account(environment: str) -> str:
    """Service account ID of ``environment``'s deployer, in the operations project."""
    return f"grid-deployer-{environment}"


def deployer_subject(repository: str, github_environment: str) -> str:
    """The `sub` claim GitHub puts in a token minted by a job that runs in ``github_environment``."""
    return f"repo:{repository}:environment:{github_environment}"


_NAMESPACED = {"project": "gcp:project", "region": "gcp:region"} | {
    to_camel(name): f"{NAMESPACE}:{to_camel(name)}" for name in BootstrapConfig.model_fields
}
_KEYS = sorted(to_camel(name) for name in BootstrapConfig.model_fields if name not in {"project", "region"})


def load_bootstrap_config(
    raw: Mapping[str, Any], *, source: str, secret_keys: frozenset[str] = frozenset()
) -> BootstrapConfig:
    """Validate a bootstrap stack's flat config map into a BootstrapConfig; raises ConfigError."""
    problems: list[str] = []
    document: dict[str, Any] = {}
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue  # provider namespaces (gcp:...) configure providers, not this program
        if key in secret_keys:
            problems.append(f"{source}: {key}: bootstrap has no secrets; store this value as plain config")
        elif name in _KEYS:
            document[name] = decode_config_value(value)
        else:
            problems.append(f"{source}: {key}: unknown key{suggest(name, _KEYS)} (valid: {', '.join(_KEYS)})")
    if "gcp:project" not in raw:
        problems.append(f"{source}: gcp:project: required: run `pulumi config set gcp:project <ops-project-id>`")
        raise ConfigError(problems)
    document.update(
        project=decode_config_value(raw["gcp:project"]),
        region=decode_config_value(raw.get("gcp:region", "us-central1")),
    )
    try:
        config = BootstrapConfig.model_validate(document)
    except ValidationError as exc:
        problems += format_validation_error(exc, BootstrapConfig, source, _NAMESPACED)
    if problems:
        raise ConfigError(problems)
    return config


def plan_settings(stack_file: Any) -> Any:
    """What ``grid plan --project bootstrap`` needs (gridlib.plan_settings.PlanSettings).

    The environment is prod whatever the stack: these resources guard every environment's state, secrets and
    deploy rights, so the strictest policy config applies.
    """
    from gridlib.plan_settings import PlanSettings

    config = load_bootstrap_config(stack_file.values, source=stack_file.source, secret_keys=stack_file.secret_keys)
    return PlanSettings(environment="prod", usage={}, budget=config.budget_monthly_usd)
