"""Typed stack configuration: one pydantic model per concern, validated against Google Cloud's limits.

The stack file (``Pulumi.<stack>.yaml``) is validated like code. Keys are camelCase as Pulumi users write them;
``grid:environment`` picks a preset (stacks/presets.py) that the stack file overrides key by key. Unknown keys
are errors. ``load_stack_config`` returns a frozen ``StackConfig`` or raises ``ConfigError`` carrying one
line per problem, each naming the file, the field path and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.backups import BackupExportConfig
from components.cache import CacheConfig, RedisMaintenanceConfig
from components.compute.functions import FUNCTION_MEMORY
from components.database import BackupConfig, DatabaseConfig, SqlMaintenanceConfig
from components.gateway import ArmorConfig, GatewayConfig
from components.messaging import MessagingConfig, TasksConfig
from components.monitoring import BudgetConfig, MonitoringConfig
from components.networking import ConnectorConfig, FlowLogsConfig, NatConfig, NetworkConfig
from components.registry import RegistryConfig
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel, decode_config_value, deep_merge
from gridlib.config_errors import ConfigError, format_validation_error, suggest
from gridlib.gcp_types import ProjectId, Region
from gridlib.plan_settings import PlanSettings
from stacks import capacity
from stacks.presets import ENVIRONMENTS, preset

# Each component owns its input model (components/<name>.py); the stack composes them into StackConfig and
# re-exports them here, where the rest of the stack program reads them.
__all__ = [
    "ArmorConfig",
    "BackupConfig",
    "BackupExportConfig",
    "BudgetConfig",
    "CacheConfig",
    "ConnectorConfig",
    "DatabaseConfig",
    "FlowLogsConfig",
    "GatewayConfig",
    "MessagingConfig",
    "MonitoringConfig",
    "NatConfig",
    "NetworkConfig",
    "RedisMaintenanceConfig",
    "RegistryConfig",
    "SqlMaintenanceConfig",
    "TasksConfig",
]

Environment = Literal["dev", "staging", "prod"]

# Config secrets: separate top-level keys set with `pulumi config set --secret`, read with require_secret.
# They never enter the models below; the models only learn which of them are present.
SECRET_KEYS: dict[str, str] = {
    "completionApiKey": "API key of the OpenAI-compatible completion provider used by the ai service",
    "pagerdutyRoutingKey": "PagerDuty Events v2 routing key for the paging notification channel",
    "slackAuthToken": "Slack bot OAuth token (xoxb-...) for the alert notification channel",
}

# One service account each. "gateway" is the identity API Gateway/Apigee call services with; "invoker" signs
# the OIDC tokens of Pub/Sub push and Cloud Scheduler; "backup" runs the scheduled database exports;
# "cost-cap" stops the services when a dev budget is spent; "fn-build" builds the functions' images.
WORKLOADS = (
    "auth",
    "api",
    "ai",
    "korean-nlp",
    "ml-analytics",
    "migrations",
    "gateway",
    "invoker",
    "backup",
    "cost-cap",
    "fn-build",
)

# Work a workload does outside the request that caused it, and how it runs once deployed. Cloud Run with
# request-based billing gives an instance almost no CPU between requests
# (https://cloud.google.com/run/docs/tips/general#avoid-background), so: "request" runs it inside the causing
# request, "push" has Pub/Sub deliver it as a request, "background" keeps a loop, which the stack then gives
# always-allocated CPU and a warm instance (and the policy run-background-work-has-cpu checks it). Request and
# push cost nothing between requests; background costs an always-on instance per service.
BACKGROUND_WORK: dict[str, tuple[str, Literal["request", "push", "background"]]] = {
    "api": ("outbox-relay", "request"),  # app/api/outbox.py: publishes before the response
    "ai": ("message-indexer", "push"),  # app/ai/push.py: Pub/Sub pushes message.created to /ai/events/pubsub
}

_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):00$")


_Model = ConfigModel


# --- networking ---------------------------------------------------------------------------------------------


# --- database -----------------------------------------------------------------------------------------------


# --- cache --------------------------------------------------------------------------------------------------


# --- registry -----------------------------------------------------------------------------------------------


# --- Cloud Run workloads ------------------------------------------------------------------------------------


class ServiceConfig(_Model):
    """Size and scaling of one Cloud Run service."""

    cpu: float = 1
    memory: str = "512Mi"
    min_instances: int = Field(0, ge=0, le=1000)
    max_instances: int = Field(3, ge=1, le=1000)
    concurrency: int = Field(80, ge=1, le=1000)
    cpu_idle: bool = Field(True, description="Bill CPU only during requests (request-based billing).")
    startup_cpu_boost: bool = True
    gpu: int = Field(0, ge=0, le=1, description="NVIDIA L4 GPUs (0 or 1).")
    timeout_seconds: int = Field(
        60,
        ge=1,
        le=gcp_limits.CLOUD_RUN_MAX_TIMEOUT_SECONDS,
        description="Cloud Run's request timeout; it also ends WebSocket streams.",
    )

    @model_validator(mode="after")
    def _limits(self) -> ServiceConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"minInstances ({self.min_instances}) is above maxInstances ({self.max_instances}): "
                "lower minInstances or raise maxInstances"
            )
        try:
            problem = gcp_limits.cloud_run_resources_problem(self.cpu, self.memory, self.gpu)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            raise ValueError(problem)
        if self.gpu and self.cpu_idle:
            raise ValueError("a GPU service needs cpuIdle: false (instance-based billing)")
        return self


class ServicesConfig(_Model):
    auth: ServiceConfig = ServiceConfig()
    # The api holds WebSocket streams open: they last as long as Cloud Run lets a request last.
    api: ServiceConfig = Field(
        default_factory=lambda: ServiceConfig.model_validate(
            {"timeoutSeconds": gcp_limits.CLOUD_RUN_MAX_TIMEOUT_SECONDS}
        )
    )
    ai: ServiceConfig = Field(default_factory=lambda: ServiceConfig.model_validate({"memory": "2Gi"}))


# --- Cloud Functions gen2 -----------------------------------------------------------------------------------

_FUNCTION_MEMORY = FUNCTION_MEMORY  # the component states what Cloud Functions offers


class FunctionConfig(_Model):
    """One Cloud Functions (gen2) function; defaults stay inside the free tier."""

    memory: str = Field("256Mi", description="Memory per instance.")
    timeout_seconds: int = Field(60, ge=1, le=540)
    min_instances: int = Field(0, ge=0, le=100)
    max_instances: int = Field(3, ge=1, le=1000, description="Cap: the free-tier guard against runaway scaling.")
    concurrency: int = Field(1, ge=1, le=1000)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if value not in _FUNCTION_MEMORY:
            raise ValueError(f"must be one of {', '.join(_FUNCTION_MEMORY)} (got {value!r})")
        return value

    @model_validator(mode="after")
    def _limits(self) -> FunctionConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(f"minInstances ({self.min_instances}) is above maxInstances ({self.max_instances})")
        if self.concurrency > 1 and gcp_limits.memory_mib(self.memory) < 512:
            raise ValueError("concurrency above 1 needs at least 512Mi (a full vCPU) per instance")
        return self


class FunctionsConfig(_Model):
    korean_nlp: FunctionConfig = Field(default_factory=lambda: FunctionConfig.model_validate({"memory": "512Mi"}))
    ml_analytics: FunctionConfig = FunctionConfig()


# --- images -------------------------------------------------------------------------------------------------

_IMAGE_BY_DIGEST = re.compile(r"^[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")


class ImagesConfig(_Model):
    """Where service images come from: built from app/<service> and pushed by Pulumi, or prebuilt elsewhere."""

    source: Literal["build", "prebuilt"] = "build"
    prebuilt: dict[Literal["auth", "api", "ai", "migrations"], str] = Field(
        default_factory=dict, description="Service -> image reference by digest (repo/image@sha256:...)."
    )

    @field_validator("prebuilt")
    @classmethod
    def _digests(cls, value: dict[str, str]) -> dict[str, str]:
        for service, image in value.items():
            if not _IMAGE_BY_DIGEST.match(image):
                raise ValueError(f"{service}: '{image}' must be pinned by digest: <registry>/<path>@sha256:<64 hex>")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ImagesConfig:
        if self.source == "prebuilt" and (missing := {"auth", "api", "ai", "migrations"} - set(self.prebuilt)):
            raise ValueError(f"source prebuilt needs an image for {', '.join(sorted(missing))} under prebuilt")
        return self


# --- gateway ------------------------------------------------------------------------------------------------


# --- messaging ----------------------------------------------------------------------------------------------


# --- monitoring ---------------------------------------------------------------------------------------------


# --- AI completion provider --------------------------------------------------------------------------------


class CompletionConfig(_Model):
    """The OpenAI-compatible chat-completions API the ai service routes /ai/complete to (key: grid:completionApiKey)."""

    base_url: str | None = Field(None, description="e.g. https://api.openai.com/v1; null: /ai/complete answers 503.")
    model: str = "gpt-4o-mini"

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"'{value}' must be an https:// URL")
        return value


# --- rollouts -----------------------------------------------------------------------------------------------

RolloutService = Literal["auth", "api", "ai"]
_REVISION = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
# Where a tagged rollout's decision is recorded: labels on the Cloud Run service itself, so it lives in the stack's
# state (and on the service), where the next deploy reads it back (grid/rollout.py), not in a CI runner's copy of
# the stack file. Revision names fit label values (lowercase letters, digits, -; at most 63 characters).
ROLLOUT_LABELS = {"stable": "grid-stable-revision", "previous": "grid-previous-revision"}


class RolloutConfig(_Model):
    """How a new revision takes traffic. ``tagged``: it gets the candidate tag and 0% until ``grid rollout ...
    promote`` pins it as stable; ``immediate``: the latest revision serves everything as soon as it is ready."""

    strategy: Literal["immediate", "tagged"] = "immediate"
    candidate_tag: str = Field("candidate", description="Tag of the new revision: https://<tag>---<service host>.")
    stable: dict[RolloutService, str] = Field(default_factory=dict, description="Revision serving 100%, per service.")
    previous: dict[RolloutService, str] = Field(default_factory=dict, description="Rollback target, per service.")

    @field_validator("stable", "previous")
    @classmethod
    def _revisions(cls, value: dict[str, str]) -> dict[str, str]:
        for service, revision in value.items():
            if not _REVISION.match(revision):
                raise ValueError(f"{service}: '{revision}' is not a Cloud Run revision name")
        return value

    def labels(self, service: str) -> dict[str, str]:
        """The service's labels recording this decision (ROLLOUT_LABELS), for a tagged rollout."""
        if self.strategy != "tagged":
            return {}
        decided = {"stable": self.stable.get(service), "previous": self.previous.get(service)}
        return {ROLLOUT_LABELS[key]: revision for key, revision in decided.items() if revision}

    @field_validator("candidate_tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not re.match(r"^[a-z](?:[-a-z0-9]{0,44}[a-z0-9])?$", value):
            raise ValueError(f"'{value}' is not a valid traffic tag (lowercase letters, digits, -)")
        return value


# --- usage assumptions for the price catalog ----------------------------------------------------------------

UsageValues = dict[str, float | bool]


class UsageConfig(_Model):
    """Usage assumptions for usage-priced resources, like an Infracost usage file (policies/pricing.py)."""

    default: UsageValues = Field(default_factory=dict, description="Applies to every resource.")
    types: dict[str, UsageValues] = Field(default_factory=dict, description="By type token.")
    resources: dict[str, UsageValues] = Field(default_factory=dict, description="By service label or name.")

    @model_validator(mode="after")
    def _known_keys(self) -> UsageConfig:
        from policies.pricing import USAGE_KEYS  # the catalog owns the vocabulary

        sections = [("default", self.default)] + [(f"types.{k}", v) for k, v in self.types.items()]
        sections += [(f"resources.{k}", v) for k, v in self.resources.items()]
        for where, values in sections:
            for key in values:
                if key not in USAGE_KEYS:
                    raise ValueError(f"{where}.{key}: unknown usage key{suggest(key, USAGE_KEYS)}")
        return self


# --- the whole stack ----------------------------------------------------------------------------------------


class StackConfig(_Model):
    """Everything one stack deploys. ``project`` and ``region`` come from ``gcp:project`` / ``gcp:region``."""

    stack: str
    project: ProjectId
    region: Region = "us-central1"
    environment: Environment
    name_prefix: str
    labels: dict[str, str] = Field(default_factory=dict)
    deployers: list[str] = Field(
        default_factory=list,
        description="IAM members that run `pulumi up` (the bootstrap's deployer account): granted "
        "iam.serviceAccountUser on each workload account, never project-wide.",
    )
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig = DatabaseConfig()
    cache: CacheConfig = CacheConfig()
    registry: RegistryConfig = RegistryConfig()
    services: ServicesConfig = ServicesConfig()
    functions: FunctionsConfig = FunctionsConfig()
    images: ImagesConfig = ImagesConfig()
    gateway: GatewayConfig = GatewayConfig()
    messaging: MessagingConfig = MessagingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    usage: UsageConfig = UsageConfig()
    rollout: RolloutConfig = RolloutConfig()
    completion: CompletionConfig = CompletionConfig()
    secrets_present: frozenset[str] = frozenset()

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.match(r"^[a-z][-a-z0-9]*[a-z0-9]$", value):
            raise ValueError(f"'{value}' must be lowercase letters, digits and -, starting with a letter")
        return value

    @field_validator("deployers")
    @classmethod
    def _deployers(cls, value: list[str]) -> list[str]:
        pattern = r"^serviceAccount:[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com$"
        for member in value:
            if not re.match(pattern, member):
                raise ValueError(f"'{member}' must be serviceAccount:<name>@<project>.iam.gserviceaccount.com")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not _LABEL_KEY.match(key):
                raise ValueError(f"label key '{key}' must match [a-z][a-z0-9_-]{{0,62}}")
            if not _LABEL_VALUE.match(str(label)):
                raise ValueError(f"label value '{label}' of '{key}' must match [a-z0-9_-]{{0,63}}")
        return value

    @model_validator(mode="after")
    def _cross_concern(self) -> StackConfig:
        from stacks.naming import Names  # local import: naming depends on this module's types

        for kind, name, autonamed in Names(self).checked():
            if problem := gcp_limits.name_problem(kind, name, autonamed=autonamed):
                raise ValueError(f"grid:namePrefix: '{self.name_prefix}' gives an invalid {kind} name: {problem}")
        if not self.monitoring.alert_emails:
            raise ValueError("grid:monitoring.alertEmails: name at least one address that receives alerts")
        if self.monitoring.paging and "pagerdutyRoutingKey" not in self.secrets_present:
            raise ValueError(
                "grid:monitoring.paging: needs the secret grid:pagerdutyRoutingKey: "
                "run `pulumi config set --secret grid:pagerdutyRoutingKey <key>` or set paging: false"
            )
        if self.gateway.type == "apigee" and self.environment != "prod":
            raise ValueError("grid:gateway.type: apigee is for prod only; use apiGateway or loadBalancer here")
        for service, revision in {**self.rollout.stable, **self.rollout.previous}.items():
            if not revision.startswith(f"{self.name_prefix}-{service}-"):
                raise ValueError(
                    f"grid:rollout: '{revision}' is not a revision of {self.name_prefix}-{service}; "
                    "use `grid rollout` to set it"
                )
        if self.database.replica_region == self.region:
            raise ValueError("grid:database.replicaRegion: must differ from gcp:region for a cross-region replica")
        capacity.plan_pools(self)  # the pools of every connecting workload must fit the database
        for name in ("auth", "api", "ai"):
            if getattr(self.services, name).gpu and self.region not in gcp_limits.GPU_REGIONS:
                raise ValueError(
                    f"grid:services.{name}.gpu: Cloud Run GPUs are not offered in {self.region}; use one of "
                    f"{', '.join(sorted(gcp_limits.GPU_REGIONS))}"
                )
        return self


# --- loading ------------------------------------------------------------------------------------------------

_NAMESPACED = {"project": "gcp:project", "region": "gcp:region"}
_TOP_LEVEL_KEYS = {
    to_camel(name): name for name in StackConfig.model_fields if name not in {"stack", "project", "region"}
} | {"namePrefix": "name_prefix"}
_TOP_LEVEL_KEYS.pop("secretsPresent", None)


def default_name_prefix(stack: str) -> str:
    """``grid-<stack>``, made safe for resource names: two stacks in one project never collide."""
    simple = stack.rsplit("/", 1)[-1].lower()
    return "grid-" + re.sub(r"[^a-z0-9-]+", "-", simple).strip("-")


def load_stack_config(
    raw: Mapping[str, Any], *, stack: str, source: str, secret_keys: frozenset[str] = frozenset()
) -> StackConfig:
    """Validate a stack's flat config map (``{"grid:environment": "prod", ...}``) into a StackConfig.

    ``secret_keys`` names the keys that arrived encrypted (``secure:``). Raises ConfigError.
    """
    problems: list[str] = []
    grid: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != "grid":
            continue
        if name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(
                    f"{source}: {key}: is a secret and must be encrypted: "
                    f"run `pulumi config set --secret {key} <value>`"
                )
            secrets.add(name)
        elif name in _TOP_LEVEL_KEYS:
            grid[name] = decode_config_value(value)
        else:
            known = sorted(_TOP_LEVEL_KEYS) + sorted(SECRET_KEYS)
            problems.append(f"{source}: {key}: unknown key{suggest(name, known)} (valid: {', '.join(known)})")

    environment = grid.get("environment")
    if environment is None:
        problems.append(
            f"{source}: grid:environment: required: run `pulumi config set grid:environment <dev|staging|prod>`"
        )
    elif environment not in ENVIRONMENTS:
        problems.append(f"{source}: grid:environment: must be one of {', '.join(ENVIRONMENTS)} (got {environment!r})")
    if "gcp:project" not in raw:
        problems.append(f"{source}: gcp:project: required: run `pulumi config set gcp:project <project-id>`")
    if environment not in ENVIRONMENTS or "gcp:project" not in raw:
        raise ConfigError(problems)

    region = decode_config_value(raw.get("gcp:region", "us-central1"))
    document = deep_merge(preset(str(environment), str(region)), grid)
    document.setdefault("namePrefix", default_name_prefix(stack))
    document.update(
        stack=stack,
        project=decode_config_value(raw["gcp:project"]),
        region=region,
        secretsPresent=frozenset(secrets),
    )
    try:
        config = StackConfig.model_validate(document)
    except ValidationError as exc:
        problems += format_validation_error(exc, StackConfig, source, _NAMESPACED)
    if problems:
        raise ConfigError(problems)
    return config


def plan_settings(stack_file: Any) -> PlanSettings:
    """What ``grid plan`` needs from a validated stack file."""
    config = load_stack_config(
        stack_file.values, stack=stack_file.stack, source=stack_file.source, secret_keys=stack_file.secret_keys
    )
    return PlanSettings(
        environment=config.environment,
        usage=config.usage.model_dump(by_alias=True),
        budget=config.monitoring.budget.monthly_usd,
    )
