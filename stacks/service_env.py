"""The infra side of the app contract: which environment variables each workload gets, and from where.

The app side is each service's settings class (app/<service>/settings.py, ``env_vars()``); a test checks the
two agree. Secrets are only ever Secret Manager references (SecretRef), never values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.compute import SecretRef
from components.compute.run import STARTUP_CONNECT_SECONDS
from stacks.config import BACKGROUND_WORK
from stacks.workloads import Workload, secret_env_name

# The access tokens' `iss` and `aud`: auth signs with them, api/ai and API Gateway check them.
ACCESS_TOKEN_ISSUER = "grid-auth"
ACCESS_TOKEN_AUDIENCE = "grid"


@dataclass
class WorkloadEnv:
    plain: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: dict[str, SecretRef] = field(default_factory=dict)


@dataclass
class EnvSources:
    """What the stack has to offer workloads."""

    environment: str
    project: str
    database_url: SecretRef
    database_ca_cert: pulumi.Input[str] | None
    """PEM of the CA(s) the database's server certificate chains to (Cloud SQL's per-instance CAs, an external
    provider's CA); None: the system's CAs. Public: a plain value, not a secret."""
    redis_url: SecretRef | None
    redis_ca_cert: pulumi.Input[str] | None
    """PEM of the cache's server CAs when it speaks TLS (public: a plain value, not a secret)."""
    jwt_signing_key: SecretRef
    jwt_previous_public_keys: Sequence[pulumi.Input[str]]
    """PEM public keys of earlier signing-key generations auth still publishes (public: plain values)."""
    events_topic: pulumi.Input[str]
    completion_api_key: SecretRef | None
    trusted_proxy_hops: int
    user_auth_header: str
    ai_subscription: pulumi.Input[str]
    """Full name of the subscription that carries message.created to the ai indexer."""
    completion_base_url: str | None
    completion_model: str
    api_timeout_seconds: int
    """The api's Cloud Run request timeout, which also ends its WebSocket streams."""
    metrics_export_interval_seconds: int
    """How often a workload that exports app metrics exports them (grid:monitoring.metricsExportIntervalSeconds)."""
    ai_push_audience: str | None = None
    """With push delivery to ai: the OIDC audience of the pushes (None: ai pulls ``ai_subscription``)."""
    push_invoker_email: pulumi.Input[str] | None = None
    """The account Pub/Sub signs push tokens as."""
    db_pools: Mapping[str, int] = field(default_factory=dict)
    """DB_POOL_MAX_SIZE per connecting workload, sized so the stack fits max_connections (stacks/capacity.py)."""
    cors_allowed_origins: Sequence[str] = ()
    """Browser origins the services answer cross-origin requests (and their preflights) from."""
    ai_tasks: AiTasks | None = None
    """Where ai enqueues deferred work; None: POST /ai/reindex answers 404."""


@dataclass(frozen=True)
class AiTasks:
    """The Cloud Tasks queue ai defers work to, and how its tasks call ai back (app/ai/tasks.py)."""

    queue: pulumi.Input[str]
    target_url: pulumi.Input[str]
    invoker: pulumi.Input[str]
    """The account Cloud Tasks signs the tasks' OIDC tokens as; ai must be able to act as it."""
    audience: pulumi.Input[str]


@dataclass(frozen=True)
class Jwks:
    """Where api and ai fetch auth's public keys, and the ID-token audience the fetch needs (None: public path)."""

    url: pulumi.Input[str]
    audience: pulumi.Input[str] | None


def _common(service: str, src: EnvSources) -> WorkloadEnv:
    env = WorkloadEnv(
        plain={
            "ENVIRONMENT": src.environment,
            "LOG_LEVEL": "INFO",
            "GOOGLE_CLOUD_PROJECT": src.project,
            # Migrations run once per release as a Cloud Run job, not in every instance's startup.
            "RUN_MIGRATIONS": "false",
            "TRUSTED_PROXY_HOPS": str(src.trusted_proxy_hops),
            "USER_AUTH_HEADER": src.user_auth_header,
            # Retry the first database/Redis connection while Direct VPC egress connects, inside the probe.
            "STARTUP_CONNECT_SECONDS": str(STARTUP_CONNECT_SECONDS),
        },
        secrets={"DATABASE_URL": src.database_url},
    )
    _database_ca(env, src.database_ca_cert)
    if service in src.db_pools:
        env.plain["DB_POOL_MAX_SIZE"] = str(src.db_pools[service])
    # The migrations job only talks to Postgres; it is no reader of the Redis secret, and Cloud Run refuses to
    # run a job that references a secret its identity cannot access.
    if service != "migrations" and src.redis_url is not None:
        env.secrets["REDIS_URL"] = src.redis_url
        if src.redis_ca_cert is not None:
            env.plain["REDIS_CA_CERT"] = src.redis_ca_cert
    return env


def _database_ca(env: WorkloadEnv, ca_cert: pulumi.Input[str] | None) -> None:
    if ca_cert is not None:
        env.plain["DATABASE_CA_CERT"] = ca_cert


def _cors(plain: dict[str, pulumi.Input[str]], origins: Sequence[str]) -> None:
    """The browser origins a workload answers (app/common/cors.py reads them as a JSON list)."""
    if origins:
        plain["CORS_ALLOWED_ORIGINS"] = json.dumps(list(origins))


def _verifying(env: WorkloadEnv, jwks: Jwks | None, service: str) -> None:
    if jwks is None:
        raise ValueError(f"{service} needs the auth service's JWKS URL")
    env.plain["JWKS_URL"] = jwks.url
    if jwks.audience is not None:
        env.plain["JWKS_AUDIENCE"] = jwks.audience


def _metrics(env: WorkloadEnv, workload: Workload, interval_seconds: int) -> None:
    if workload.exports_metrics:
        # App metrics to Cloud Monitoring (app/common/metrics.py): its image has the exporter, and its account
        # roles/monitoring.metricWriter (stacks/program.py project_roles). Every export is billed by the bytes of
        # its points (the plan prices them from these two variables: policies/pricers.py).
        env.plain["METRICS_EXPORT"] = "true"
        env.plain["METRICS_EXPORT_INTERVAL_SECONDS"] = str(interval_seconds)


def service_env(workload: Workload, src: EnvSources, jwks: Jwks | None = None) -> WorkloadEnv:
    """Environment of a bundled ``workload`` (auth, api, ai, migrations); api and ai verify tokens against ``jwks``."""
    service = workload.name
    env = _common(service, src)
    _metrics(env, workload, src.metrics_export_interval_seconds)
    if service != "migrations":
        env.plain.update({"JWT_ISSUER": ACCESS_TOKEN_ISSUER, "JWT_AUDIENCE": ACCESS_TOKEN_AUDIENCE})
        _cors(env.plain, src.cors_allowed_origins)
    if service == "auth":
        env.secrets["JWT_SIGNING_KEY"] = src.jwt_signing_key
        if src.jwt_previous_public_keys:
            env.plain["JWT_PREVIOUS_PUBLIC_KEYS"] = pulumi.Output.all(*src.jwt_previous_public_keys).apply(
                lambda pems: "".join(pems)
            )
    elif service == "api":
        _verifying(env, jwks, service)
        env.plain.update(
            {
                "EVENTS_BACKEND": "pubsub",
                "PUBSUB_TOPIC": src.events_topic,
                "REQUEST_TIMEOUT_SECONDS": str(src.api_timeout_seconds),
                "OUTBOX_RELAY_MODE": "background" if BACKGROUND_WORK["api"][1] == "background" else "request",
            }
        )
    elif service == "ai":
        _verifying(env, jwks, service)
        env.plain["COMPLETION_MODEL"] = src.completion_model
        if src.ai_push_audience is not None:
            env.plain.update(
                {
                    "EVENTS_BACKEND": "push",
                    "PUSH_AUDIENCE": src.ai_push_audience,
                    "PUSH_SERVICE_ACCOUNT": src.push_invoker_email,
                }
            )
        else:
            env.plain.update({"EVENTS_BACKEND": "pubsub", "PUBSUB_SUBSCRIPTION": src.ai_subscription})
        if src.ai_tasks is not None:
            env.plain.update(
                {
                    "TASKS_QUEUE": src.ai_tasks.queue,
                    "TASKS_TARGET_URL": src.ai_tasks.target_url,
                    "TASKS_INVOKER": src.ai_tasks.invoker,
                    "TASKS_AUDIENCE": src.ai_tasks.audience,
                }
            )
        if src.completion_base_url is not None:
            env.plain["COMPLETION_BASE_URL"] = src.completion_base_url
        if src.completion_api_key is not None:
            env.secrets["COMPLETION_API_KEY"] = src.completion_api_key
    elif service == "migrations":
        env.plain["RUN_MIGRATIONS"] = "true"
    else:
        raise ValueError(f"no environment contract for '{service}'")
    return env


def function_env(
    function: str,
    environment: str,
    database_url: SecretRef,
    db_pool: int | None = None,
    trusted_proxy_hops: int = 0,
    database_ca_cert: pulumi.Input[str] | None = None,
    cors_allowed_origins: Sequence[str] = (),
) -> WorkloadEnv:
    """Environment of a Cloud Function: where the client IP is (for the per-client rates), the origins browsers may
    call it from (answered as the services do); ml-analytics also writes usage to Postgres."""
    plain: dict[str, pulumi.Input[str]] = {"ENVIRONMENT": environment, "TRUSTED_PROXY_HOPS": str(trusted_proxy_hops)}
    _cors(plain, cors_allowed_origins)
    if function == "korean-nlp":
        return WorkloadEnv(plain=plain)
    if function == "ml-analytics":
        plain.update({"DB_POOL_MAX_SIZE": str(db_pool)} if db_pool else {})
        env = WorkloadEnv(plain=plain, secrets={"DATABASE_URL": database_url})
        _database_ca(env, database_ca_cert)
        return env
    raise ValueError(f"no environment contract for function '{function}'")


@dataclass(frozen=True)
class WorkloadSources:
    """What the stack offers a workload of the stack file's own (grid:services/jobs/functions)."""

    environment: str
    project: str
    database_url: SecretRef
    database_ca_cert: pulumi.Input[str] | None
    """The CA the database server is verified with (Cloud SQL's own, or an external provider's), if any."""
    redis_url: SecretRef | None
    redis_ca_cert: pulumi.Input[str] | None
    events_topic: pulumi.Input[str]
    db_pools: Mapping[str, int]
    config_secrets: Mapping[str, SecretRef]
    """Config secret key (completionApiKey) -> its Secret Manager secret, for those some workload reads."""
    metrics_export_interval_seconds: int
    """How often a workload that declares ``exportsMetrics`` exports them."""
    pushed_to: frozenset[str] = frozenset()
    """The services events are pushed to (their ``consumes``, while something publishes the type)."""
    push_audience: str | None = None
    """The OIDC audience of those pushes."""
    push_invoker_email: pulumi.Input[str] | None = None
    """The account the pushes carry a token of."""


def workload_env(workload: Workload, src: WorkloadSources) -> WorkloadEnv:
    """The environment contract of a workload Grid does not bundle, from what its registry entry reads
    (docs/workloads.md): ENVIRONMENT, GOOGLE_CLOUD_PROJECT and LOG_LEVEL always; ``database``: DATABASE_URL (a
    secret), DATABASE_CA_CERT to verify the server with (app/common/pgconnect.py) and DB_POOL_MAX_SIZE; ``cache``: REDIS_URL (a secret; REDIS_CA_CERT with TLS) when the stack has
    Redis; ``events``: PUBSUB_TOPIC; PUSH_AUDIENCE and PUSH_SERVICE_ACCOUNT, to check the token of each pushed event,
    when events are pushed to it (``consumes``); each config secret under its UPPER_SNAKE name; METRICS_EXPORT and
    METRICS_EXPORT_INTERVAL_SECONDS when it declares ``exportsMetrics``; then its own ``env``."""
    env = WorkloadEnv(plain={"ENVIRONMENT": src.environment, "GOOGLE_CLOUD_PROJECT": src.project, "LOG_LEVEL": "INFO"})
    if "database" in workload.reads:
        env.secrets["DATABASE_URL"] = src.database_url
        _database_ca(env, src.database_ca_cert)
        if workload.name in src.db_pools:
            env.plain["DB_POOL_MAX_SIZE"] = str(src.db_pools[workload.name])
    if "cache" in workload.reads and src.redis_url is not None:
        env.secrets["REDIS_URL"] = src.redis_url
        if src.redis_ca_cert is not None:
            env.plain["REDIS_CA_CERT"] = src.redis_ca_cert
    if "events" in workload.reads:
        env.plain["PUBSUB_TOPIC"] = src.events_topic
    if workload.name in src.pushed_to and src.push_audience is not None:
        env.plain["PUSH_AUDIENCE"] = src.push_audience
        env.plain["PUSH_SERVICE_ACCOUNT"] = src.push_invoker_email
    for key in workload.secrets:
        env.secrets[secret_env_name(key)] = src.config_secrets[key]
    _metrics(env, workload, src.metrics_export_interval_seconds)
    env.plain.update(dict(workload.env))
    return env


def names_of(env: WorkloadEnv) -> Mapping[str, bool]:
    """Variable name -> is secret, for contract checks."""
    return {**dict.fromkeys(env.plain, False), **dict.fromkeys(env.secrets, True)}
