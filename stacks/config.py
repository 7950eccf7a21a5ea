"""Typed stack configuration: one pydantic model per concern, validated against Google Cloud's limits.

The stack file (``Pulumi.<stack>.yaml``) is validated like code. Keys are camelCase as Pulumi users write them;
``grid:environment`` picks a preset (stacks/presets.py) that the stack file overrides key by key. Unknown keys
are errors. ``load_stack_config`` returns a frozen ``StackConfig`` or raises ``ConfigError`` carrying one
line per problem, each naming the file, the field path and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.backups import BackupExportConfig
from components.cache import CacheConfig, RedisMaintenanceConfig
from components.compute.functions import FunctionSize
from components.compute.run import ServiceSize
from components.database import BackupConfig, DatabaseConfig, SqlMaintenanceConfig
from components.external import url_problem
from components.gateway import ArmorConfig, GatewayConfig
from components.identity import SigningKeyConfig
from components.messaging import MessagingConfig, TasksConfig
from components.monitoring import BudgetConfig, MonitoringConfig
from components.networking import ConnectorConfig, FlowLogsConfig, NatConfig, NetworkConfig
from components.registry import RegistryConfig
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel, decode_config_value, deep_merge
from gridlib.config_errors import ConfigError, format_validation_error, suggest
from gridlib.gcp_types import Cron, ProjectId, Region
from gridlib.plan_settings import PlanSettings
from stacks import capacity
from stacks.presets import ENVIRONMENTS, preset
from stacks.workloads import (
    BUNDLED,
    BUNDLED_BY_NAME,
    CONFIG_KEY,
    KINDS,
    PLATFORM_ACCOUNTS,
    Kind,
    Read,
    Workload,
    bundled,
    secret_env_name,
    source_path,
)

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
    "SigningKeyConfig",
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

# One service account each: every workload of the registry (stacks/workloads.py) and the platform's own
# identities. A stack's own workloads (grid:services/jobs/functions) add theirs: StackConfig.accounts.
WORKLOADS = (*(w.name for w in BUNDLED), *PLATFORM_ACCOUNTS)

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
# A workload's name becomes <namePrefix>-<name>: its service account ID (at most 30 characters) and its Cloud Run
# service name, so it is short and DNS-like.
_WORKLOAD_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,18}[a-z0-9])?$")
_SOURCE = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_.][A-Za-z0-9_./-]*$")
_ROUTE = re.compile(r"^(/[a-z0-9][a-z0-9_.-]*)+$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Set by the stack (stacks/service_env.py workload_env) or by Cloud Run itself
# (https://cloud.google.com/run/docs/container-contract#env-vars): a stack file's env may not shadow them.
_RESERVED_ENV = frozenset(
    {"ENVIRONMENT", "GOOGLE_CLOUD_PROJECT", "LOG_LEVEL", "DATABASE_URL", "DB_POOL_MAX_SIZE", "REDIS_URL"}
    | {"REDIS_CA_CERT", "DATABASE_CA_CERT", "PUBSUB_TOPIC", "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"}
    | {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}
    | {"CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT"}
    | {"CLOUD_RUN_TASK_COUNT", "METRICS_EXPORT", "METRICS_EXPORT_INTERVAL_SECONDS"}
    | {secret_env_name(key) for key in SECRET_KEYS}
)
# Keys the bundled functions had before the registry (grid:functions.koreanNlp): still read.
_LEGACY_NAMES = {to_camel(w.name.replace("-", "_")): w.name for w in BUNDLED if "-" in w.name}


_Model = ConfigModel


# --- networking ---------------------------------------------------------------------------------------------


# --- database -----------------------------------------------------------------------------------------------


# --- cache --------------------------------------------------------------------------------------------------


# --- registry -----------------------------------------------------------------------------------------------


# --- Cloud Run workloads ------------------------------------------------------------------------------------


class WorkloadSettings(_Model):
    """What every entry of grid:services, grid:jobs and grid:functions may say besides its size."""

    enabled: bool = Field(True, description="false: the stack does not deploy it (nothing may depend on it).")
    source: str | None = Field(
        None,
        description="Directory with its Dockerfile (services, jobs) or main.py (functions), relative to the "
        "project directory; required for a workload Grid does not bundle.",
    )
    reads: list[Read] | None = Field(
        None, description="What it reads: database, cache, events (publishes to the events topic)."
    )
    secrets: list[str] = Field(default_factory=list, description="Config secrets it reads (e.g. completionApiKey).")
    publishes: list[str] | None = Field(
        None,
        description="Event types it publishes to the events topic (needs reads: [events]), e.g. [item.scraped]: a "
        "workload that consumes one gets its push subscription.",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (never secrets).")
    exports_metrics: bool | None = Field(
        None,
        description="Its image exports app metrics to Cloud Monitoring: the stack sets METRICS_EXPORT=true and grants "
        "roles/monitoring.metricWriter. Unset: the bundled services do (their images carry the exporter), others not.",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        if value is not None and not _SOURCE.match(value):
            raise ValueError(f"'{value}' must be a relative directory like app/billing (no '..', no leading /)")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: list[str]) -> list[str]:
        for key in value:
            if key not in SECRET_KEYS:
                raise ValueError(
                    f"'{key}' is not a config secret{suggest(key, SECRET_KEYS)} (valid: {', '.join(SECRET_KEYS)})"
                )
        return value

    @field_validator("publishes")
    @classmethod
    def _event_types(cls, value: list[str] | None) -> list[str] | None:
        for event in value or ():
            if not _EVENT_TYPE.match(event):
                raise ValueError(f"'{event}' must be an event type like item.scraped (lowercase words joined by .)")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"env name '{name}' must be UPPER_SNAKE_CASE")
            if name in _RESERVED_ENV:
                raise ValueError(
                    f"env name '{name}' is set by the platform (from reads, secrets, exportsMetrics); pick another name"
                )
        return value


class Routed(_Model):
    route: str | None = Field(None, description="Gateway prefix, e.g. /billing: serves /billing and /billing/*.")

    @field_validator("route")
    @classmethod
    def _route(cls, value: str | None) -> str | None:
        if value is not None and not _ROUTE.match(value):
            raise ValueError(f"'{value}' must be a path prefix like /billing (lowercase, no trailing /)")
        return value


_PUSH_PATH = re.compile(r"^(/[A-Za-z0-9_.~-]+)+$")


class Consuming(_Model):
    consumes: dict[str, str] | None = Field(
        None,
        description="Event type -> path, e.g. {item.scraped: /billing/events/items}: while a workload of the stack "
        "publishes that type, the stack pushes each such event to that path of this service (docs/workloads.md).",
    )

    @field_validator("consumes")
    @classmethod
    def _consumes(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for event, path in (value or {}).items():
            if not _EVENT_TYPE.match(event):
                raise ValueError(f"'{event}' must be an event type like item.scraped (lowercase words joined by .)")
            if not _PUSH_PATH.match(path):
                raise ValueError(f"{event}: '{path}' must be a path of the service like /events/items")
        return value


class ServiceConfig(WorkloadSettings, Routed, Consuming, ServiceSize):
    """One Cloud Run service: its size and scaling (the compute component's ServiceSize, which validates them)
    and, for a service of your own, its source, route and the events pushed to it."""


class JobConfig(WorkloadSettings):
    """One Cloud Run job: run to completion, on a Cloud Scheduler trigger when it has a schedule."""

    schedule: Cron | None = Field(None, description="Cron of its Cloud Scheduler trigger; null: run on demand.")
    command: list[str] | None = Field(None, description="Container command; default: the image's own.")
    cpu: float = 1
    memory: str = "512Mi"
    timeout_seconds: int = Field(
        600,
        ge=gcp_limits.CLOUD_RUN_TASK_TIMEOUT_SECONDS.low,
        le=gcp_limits.CLOUD_RUN_TASK_TIMEOUT_SECONDS.high,
        description="Per task attempt.",
    )
    max_retries: int = Field(
        1,
        ge=gcp_limits.CLOUD_RUN_TASK_MAX_RETRIES.low,
        le=gcp_limits.CLOUD_RUN_TASK_MAX_RETRIES.high,
        description="Retries of a failed task.",
    )

    @model_validator(mode="after")
    def _limits(self) -> JobConfig:
        try:
            problem = gcp_limits.cloud_run_resources_problem(self.cpu, self.memory, 0)
        except ValueError as exc:
            problem = str(exc)
        if problem:
            raise ValueError(problem)
        return self


# --- Cloud Functions gen2 -----------------------------------------------------------------------------------


class FunctionConfig(WorkloadSettings, Routed, FunctionSize):
    """One Cloud Functions (gen2) function: its size and scaling (the compute component's FunctionSize, which
    validates them; defaults stay inside the free tier) and, for a function of your own, its source and route."""

    entry_point: str | None = Field(None, description="functions-framework target; default: its name, _ for -.")


class _WorkloadMap(RootModel):
    """Name -> settings of one kind of workload: the bundled ones (stacks/workloads.py) with the stack's
    settings merged onto their defaults key by key, then the stack's own. ``config.services.api`` and
    ``config.services["api"]`` both read an entry."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[Kind]

    @model_validator(mode="before")
    @classmethod
    def _onto_bundled(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # pydantic reports the wrong type
        given: dict[str, Any] = {}
        # Stack files written before the registry spelt the bundled functions in camelCase (koreanNlp).
        for key in sorted(data, key=lambda k: k in _LEGACY_NAMES):
            name = _LEGACY_NAMES.get(key, key)
            value = data[key]
            if isinstance(value, Mapping) and isinstance(given.get(name), Mapping):
                value = deep_merge(given[name], value)
            given[name] = value
        merged = {}
        for workload in bundled(cls.kind):
            own = given.pop(workload.name, None)
            defaults = workload.defaults
            if workload.streams:
                defaults = {**defaults, "timeoutSeconds": gcp_limits.CLOUD_RUN_MAX_TIMEOUT_SECONDS}
            merged[workload.name] = (
                deep_merge(defaults, own) if isinstance(own, Mapping) else (defaults if own is None else own)
            )
        return {**merged, **given}

    @field_validator("root")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _WORKLOAD_NAME.match(name):
                raise ValueError(
                    f"'{name}' is not a workload name: lowercase letters, digits and -, starting with a letter, "
                    "at most 20 characters"
                )
        return value

    def __getattr__(self, name: str) -> Any:
        root = self.__dict__.get("root") or {}
        key = name.replace("_", "-")
        if key in root:
            return root[key]
        raise AttributeError(name)

    def __getitem__(self, name: str) -> Any:
        return self.root[name]

    def __contains__(self, name: object) -> bool:
        return name in self.root

    def items(self) -> Any:
        return self.root.items()


class ServicesConfig(_WorkloadMap):
    root: dict[str, ServiceConfig]
    kind: ClassVar[Kind] = "service"


class JobsConfig(_WorkloadMap):
    root: dict[str, JobConfig]
    kind: ClassVar[Kind] = "job"


class FunctionsConfig(_WorkloadMap):
    root: dict[str, FunctionConfig]
    kind: ClassVar[Kind] = "function"


def _workload(kind: Kind, name: str, settings: Any) -> Workload:
    """The registry entry of one enabled workload: bundled facts with the stack file's say on top."""
    base = BUNDLED_BY_NAME.get(name)
    reads = frozenset(settings.reads) if settings.reads is not None else (base.reads if base else frozenset())
    common = {
        "source": settings.source or (base.source if base else ""),
        "reads": reads,
        "secrets": tuple(dict.fromkeys([*(base.secrets if base else ()), *settings.secrets])),
        "env": tuple(sorted(settings.env.items())),
    }
    if settings.publishes is not None:
        common["publishes"] = tuple(settings.publishes)
    if settings.exports_metrics is not None:
        common["exports_metrics"] = settings.exports_metrics
    if kind != "job" and settings.route is not None:
        common["route"] = settings.route
    if kind == "service" and settings.consumes is not None:
        common["consumes"] = tuple(sorted(settings.consumes.items()))
    if kind == "job":
        if settings.schedule is not None:
            common["schedule"] = settings.schedule
        if settings.command is not None:
            common["command"] = tuple(settings.command)
    if kind == "function":
        common["entry_point"] = settings.entry_point or (base.entry_point if base else name.replace("-", "_"))
    if base is not None:
        return replace(base, **common)
    health = f"{settings.route}/health" if kind == "service" and settings.route else None
    return Workload(name, kind, health=health, **common)


# --- images -------------------------------------------------------------------------------------------------

_IMAGE_BY_DIGEST = re.compile(r"^[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")


class ImagesConfig(_Model):
    """Where service and job images come from: built from each workload's source and pushed by Pulumi, or
    prebuilt elsewhere (then every image the stack runs needs a digest here: StackConfig checks)."""

    source: Literal["build", "prebuilt"] = "build"
    prebuilt: dict[str, str] = Field(
        default_factory=dict, description="Image (workload) -> image reference by digest (repo/image@sha256:...)."
    )

    @field_validator("prebuilt")
    @classmethod
    def _digests(cls, value: dict[str, str]) -> dict[str, str]:
        for service, image in value.items():
            if not _IMAGE_BY_DIGEST.match(image):
                raise ValueError(f"{service}: '{image}' must be pinned by digest: <registry>/<path>@sha256:<64 hex>")
        return value


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
    stable: dict[str, str] = Field(default_factory=dict, description="Revision serving 100%, per service.")
    previous: dict[str, str] = Field(default_factory=dict, description="Rollback target, per service.")

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
    signing_key: SigningKeyConfig = SigningKeyConfig()
    services: ServicesConfig = Field(default_factory=lambda: ServicesConfig({}))
    jobs: JobsConfig = Field(default_factory=lambda: JobsConfig({}))
    functions: FunctionsConfig = Field(default_factory=lambda: FunctionsConfig({}))
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
        for service, revision in {**self.rollout.stable, **self.rollout.previous}.items():
            if not revision.startswith(f"{self.name_prefix}-{service}-"):
                raise ValueError(
                    f"grid:rollout: '{revision}' is not a revision of {self.name_prefix}-{service}; "
                    "use `grid rollout` to set it"
                )
        if self.database.replica_region == self.region:
            raise ValueError("grid:database.replicaRegion: must differ from gcp:region for a cross-region replica")
        _check_workloads(self)
        capacity.plan_pools(self)  # the pools of every connecting workload must fit the database
        for name, service in self.services.items():
            if service.enabled and service.gpu and self.region not in gcp_limits.GPU_REGIONS:
                raise ValueError(
                    f"grid:services.{name}.gpu: Cloud Run GPUs are not offered in {self.region}; use one of "
                    f"{', '.join(sorted(gcp_limits.GPU_REGIONS))}"
                )
        return self

    def settings_of(self, workload: Workload) -> Any:
        """The stack file's settings (size, scaling) of ``workload``."""
        return getattr(self, CONFIG_KEY[workload.kind])[workload.name]

    @property
    def workloads(self) -> tuple[Workload, ...]:
        """The registry of this stack: every enabled workload, bundled first, then the stack file's own."""
        found = []
        for kind in KINDS:
            for name, settings in getattr(self, CONFIG_KEY[kind]).items():
                if settings.enabled:
                    found.append(_workload(kind, name, settings))
        return tuple(found)

    def workloads_of(self, kind: Kind) -> tuple[Workload, ...]:
        return tuple(w for w in self.workloads if w.kind == kind)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Who gets a service account: every workload, then the platform's own identities."""
        return (*(w.name for w in self.workloads), *PLATFORM_ACCOUNTS)


def _check_workloads(config: StackConfig) -> None:
    """The registry is consistent: own workloads have a source, names and routes are unique, nothing depends on
    a workload that is switched off, prebuilt images and rollout decisions name workloads that exist."""
    seen: dict[str, str] = {}
    routes: dict[str, str] = {}
    for kind in KINDS:
        key = CONFIG_KEY[kind]
        for name, settings in getattr(config, key).items():
            where = f"grid:{key}.{name}"
            if name in PLATFORM_ACCOUNTS:
                raise ValueError(f"{where}: '{name}' is the name of a platform identity; pick another name")
            if name in seen:
                raise ValueError(f"{where}: '{name}' is already declared under grid:{seen[name]}; pick another name")
            seen[name] = key
            bundled_one = BUNDLED_BY_NAME.get(name)
            if bundled_one is not None and bundled_one.kind != kind:
                raise ValueError(
                    f"{where}: '{name}' is a bundled {bundled_one.kind}; it belongs under "
                    f"grid:{CONFIG_KEY[bundled_one.kind]}"
                )
            if bundled_one is None and settings.enabled and not settings.source:
                what = "main.py" if kind == "function" else "Dockerfile"
                raise ValueError(f"{where}.source: required: the directory with its {what}, e.g. source: app/{name}")
    active = {w.name: w for w in config.workloads}
    for workload in active.values():
        key = f"grid:{CONFIG_KEY[workload.kind]}.{workload.name}"
        if workload.publishes and "events" not in workload.reads:
            raise ValueError(f"{key}.publishes: needs events in {key}.reads: it publishes to the events topic")
        for needed in workload.needs:
            if needed not in active:
                needed_key = CONFIG_KEY[BUNDLED_BY_NAME[needed].kind] if needed in BUNDLED_BY_NAME else "services"
                raise ValueError(
                    f"grid:{needed_key}.{needed}.enabled: {workload.name} needs {needed}: "
                    f"switch {key} off too, or keep {needed} on"
                )
        if workload.route is not None:
            # A prefix owns everything under it (stacks/routes.py), so one prefix inside another would shadow it.
            route = workload.route
            for other in routes:
                if route == other or route.startswith(f"{other}/") or other.startswith(f"{route}/"):
                    raise ValueError(
                        f"{key}.route: {route} overlaps {other} of {routes[other]}; pick a distinct prefix"
                    )
            routes[workload.route] = workload.name
    for workload in BUNDLED:
        if workload.required and workload.name not in active:
            raise ValueError(
                f"grid:{CONFIG_KEY[workload.kind]}.{workload.name}.enabled: cannot be false: {workload.required}"
            )
    images = {w.image_name for w in active.values() if w.kind in ("service", "job")}
    if config.images.source == "prebuilt" and (missing := images - set(config.images.prebuilt)):
        raise ValueError(
            f"grid:images.prebuilt: source prebuilt needs an image for {', '.join(sorted(missing))} under prebuilt"
        )
    services = {w.name for w in active.values() if w.kind == "service"}
    for decided in (config.rollout.stable, config.rollout.previous):
        for service in decided:
            if service not in services:
                raise ValueError(
                    f"grid:rollout: '{service}' is not a Cloud Run service of this stack "
                    f"(services: {', '.join(sorted(services))})"
                )


def source_problems(config: StackConfig, root: Path, source: str) -> list[str]:
    """One line per workload whose source directory lacks its Dockerfile or main.py (stacks/workloads.py)."""
    problems = []
    for workload in config.workloads:
        if source_path(workload, root) is None:
            what = "main.py" if workload.kind == "function" else "Dockerfile"
            problems.append(
                f"{source}: grid:{CONFIG_KEY[workload.kind]}.{workload.name}.source: {workload.source} has no {what} "
                f"in {root} (nor in Grid's own tree); add one or fix the path"
            )
    return problems


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
    raw: Mapping[str, Any],
    *,
    stack: str,
    source: str,
    secret_keys: frozenset[str] = frozenset(),
    root: Path | None = None,
) -> StackConfig:
    """Validate a stack's flat config map (``{"grid:environment": "prod", ...}``) into a StackConfig.

    ``secret_keys`` names the keys that arrived encrypted (``secure:``); ``root`` is the project directory the
    stack's own workloads' sources are relative to (None: not checked). Raises ConfigError.
    """
    problems: list[str] = []
    grid: dict[str, Any] = {}
    secrets: set[str] = set()
    external = _external_url_keys(raw, source, secret_keys, problems)
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != "grid" or name in external:
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
    else:
        if root is not None:
            problems += source_problems(config, root, source)
    if problems:
        raise ConfigError(problems)
    return config


def _external_url_keys(
    raw: Mapping[str, Any], source: str, secret_keys: frozenset[str], problems: list[str]
) -> set[str]:
    """The config keys ``grid:database``/``grid:cache`` name as their external URL; checks each is a secret
    and, when the program sees its value (not ``grid plan``'s placeholder), that the URL verifies the server."""
    names: set[str] = set()
    for store in ("database", "cache"):
        block = decode_config_value(raw.get(f"grid:{store}"))
        external = block.get("external") if isinstance(block, Mapping) else None
        name = external.get("urlSecret") if isinstance(external, Mapping) else None
        if not isinstance(name, str) or name in _TOP_LEVEL_KEYS or name in SECRET_KEYS:
            if isinstance(name, str):
                problems.append(f"{source}: grid:{store}.external.urlSecret: '{name}' is taken; name a key of its own")
            continue  # a missing or malformed name is the model's to report
        names.add(name)
        key = f"grid:{name}"
        if key not in raw:
            problems.append(
                f"{source}: grid:{store}.external.urlSecret: names {key}, which is not set: "
                f"run `pulumi config set --secret {key} <url>`"
            )
        elif key not in secret_keys:
            fix = f"run `pulumi config set --secret {key} <url>`"
            problems.append(f"{source}: {key}: is a secret and must be encrypted: {fix}")
        elif isinstance(raw[key], str) and (problem := url_problem(store, name, raw[key])):
            problems.append(f"{source}: {problem}")  # (a value still encrypted is not a string: not checked)
    return names


def plan_settings(stack_file: Any) -> PlanSettings:
    """What ``grid plan`` needs from a validated stack file."""
    config = load_stack_config(
        stack_file.values,
        stack=stack_file.stack,
        source=stack_file.source,
        secret_keys=stack_file.secret_keys,
        root=stack_file.path.parent,
    )
    return PlanSettings(
        environment=config.environment,
        usage=config.usage.model_dump(by_alias=True),
        budget=config.monitoring.budget.monthly_usd,
    )
