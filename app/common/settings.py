"""Settings shared by every service.

The environment variables read here are the contract between the app and the infrastructure: the stack sets
exactly these (secrets only through Secret Manager references) and `env_vars()` lists them so a test can check
that both sides agree. Every field declares its variable name explicitly with `alias`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.common.pgconnect import VERIFYING_MODES, sslmode


@dataclass(frozen=True)
class EnvVar:
    name: str
    required: bool
    secret: bool
    description: str


def _is_secret(annotation: object) -> bool:
    text = repr(annotation)
    return "SecretStr" in text


class ServiceSettings(BaseSettings):
    """Variables every service reads."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    environment: Literal["local", "dev", "staging", "prod", "test"] = Field(
        "local", alias="ENVIRONMENT", description="One of local, dev, staging, prod, test."
    )
    log_level: str = Field("INFO", alias="LOG_LEVEL", description="Python log level.")
    access_log: bool = Field(
        False,
        alias="ACCESS_LOG",
        description="Log one line per request. Off in the cloud, where Cloud Run's request log already does it.",
    )
    google_cloud_project: str | None = Field(
        None,
        alias="GOOGLE_CLOUD_PROJECT",
        description="Project id, used to build the logging.googleapis.com/trace field.",
    )
    database_url: SecretStr = Field(
        alias="DATABASE_URL",
        description="libpq URL of the Postgres database; the role must not be superuser or BYPASSRLS.",
    )
    database_ca_cert: str | None = Field(
        None,
        alias="DATABASE_CA_CERT",
        description="PEM of the CA certificate(s) that sign the Postgres server's (Cloud SQL's per-instance CA, or "
        "an external provider's such as Supabase's; from the plan). The server is verified against these instead "
        "of the system CAs; DATABASE_URL's sslmode must then be verify-ca or verify-full.",
    )
    db_pool_min_size: int = Field(1, ge=0, le=100, alias="DB_POOL_MIN_SIZE", description="Pool minimum.")
    db_pool_max_size: int = Field(10, ge=1, le=200, alias="DB_POOL_MAX_SIZE", description="Pool maximum.")
    startup_connect_seconds: float = Field(
        30.0,
        ge=0,
        le=600,
        alias="STARTUP_CONNECT_SECONDS",
        description="How long the first database/Redis connection is retried at start (the stack sets it inside "
        "the startup probe's budget: Direct VPC egress can take a minute to connect).",
    )
    run_migrations: bool = Field(
        True, alias="RUN_MIGRATIONS", description="Apply SQL migrations at startup (under an advisory lock)."
    )
    redis_url: SecretStr | None = Field(
        None,
        alias="REDIS_URL",
        description="redis:// or rediss:// URL (with AUTH). Unset: in-process cache and rate limits only.",
    )
    redis_ca_cert: str | None = Field(
        None,
        alias="REDIS_CA_CERT",
        description="PEM of the CA certificate(s) that sign the Redis server's (Memorystore's server CAs, from "
        "the plan). With a rediss:// REDIS_URL the server is verified against these instead of the system CAs.",
    )
    cache_l1_ttl_seconds: float = Field(
        2.0, gt=0, le=60, alias="CACHE_L1_TTL_SECONDS", description="In-process cache TTL."
    )
    cache_l1_max_bytes: int = Field(
        32 * 1_048_576, ge=0, alias="CACHE_L1_MAX_BYTES", description="Memory budget of the in-process cache."
    )
    cache_l2_ttl_seconds: int = Field(300, gt=0, alias="CACHE_L2_TTL_SECONDS", description="Redis cache TTL.")
    max_body_bytes: int = Field(
        1_048_576, gt=0, alias="MAX_BODY_BYTES", description="Larger request bodies are refused with 413."
    )
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=5,
        alias="TRUSTED_PROXY_HOPS",
        description="How many X-Forwarded-For entries, from the right, were added by trusted proxies.",
    )
    # An immutable default rather than `default_factory=list`: pydantic inspects a default factory's signature,
    # and for a builtin such as list that means compiling the tokenizer's regular expressions, tens of
    # milliseconds of every cold start (tests/app/common/test_startup_imports.py).
    cors_allowed_origins: tuple[str, ...] = Field(
        (),
        alias="CORS_ALLOWED_ORIGINS",
        description="JSON list of browser origins answered cross-origin (preflights included); empty: none.",
    )
    jwt_issuer: str = Field("grid-auth", alias="JWT_ISSUER", description="`iss` of access tokens.")
    jwt_audience: str = Field("grid", alias="JWT_AUDIENCE", description="`aud` of access tokens.")
    user_auth_header: Literal["Authorization", "X-Forwarded-Authorization"] = Field(
        "Authorization",
        alias="USER_AUTH_HEADER",
        description="The one header the caller's access token is read from; the other is ignored. "
        "X-Forwarded-Authorization only behind API Gateway, where the gateway is the only way in "
        "(docs/app-services.md).",
    )

    metrics_export: bool = Field(
        False,
        alias="METRICS_EXPORT",
        description="Export the app metrics (app/common/metrics.py) to Cloud Monitoring in GOOGLE_CLOUD_PROJECT; "
        "needs opentelemetry-sdk in the image (every service image has it).",
    )
    metrics_export_interval_seconds: float = Field(
        60.0,
        ge=10,
        le=3600,
        alias="METRICS_EXPORT_INTERVAL_SECONDS",
        description="How often the metrics are exported; Monitoring takes one point per series every 5 s at most.",
    )
    monitoring_endpoint: str | None = Field(
        None,
        alias="MONITORING_ENDPOINT",
        description="Base URL of a fake of the Monitoring REST API, e.g. http://127.0.0.1:8123 (tests), called "
        "without a token; unset: https://monitoring.googleapis.com with the metadata server's token.",
    )

    @model_validator(mode="after")
    def _ca_needs_tls(self) -> ServiceSettings:
        if self.database_ca_cert and sslmode(self.database_url.get_secret_value()) not in VERIFYING_MODES:
            raise ValueError(
                "DATABASE_CA_CERT is set but DATABASE_URL does not verify the server: "
                "give it sslmode=verify-ca or sslmode=verify-full"
            )
        if self.redis_ca_cert and not (self.redis_url and self.redis_url.get_secret_value().startswith("rediss://")):
            raise ValueError("REDIS_CA_CERT is set but REDIS_URL is not a rediss:// (TLS) URL: set both or neither")
        if self.metrics_export and not self.google_cloud_project:
            raise ValueError("METRICS_EXPORT is on but GOOGLE_CLOUD_PROJECT is unset: set the project metrics go to")
        return self

    @classmethod
    def env_vars(cls) -> list[EnvVar]:
        """The environment variables this service reads, in declaration order."""
        out = []
        for field in cls.model_fields.values():
            assert field.alias, "every setting declares its environment variable"
            out.append(
                EnvVar(
                    name=field.alias,
                    required=field.is_required(),
                    secret=_is_secret(field.annotation),
                    description=field.description or "",
                )
            )
        return out


class VerifyingServiceSettings(ServiceSettings):
    """Variables of a service that verifies access tokens against the auth service's published keys (api, ai)."""

    jwks_url: str = Field(
        alias="JWKS_URL",
        description="URL of the auth service's /auth/.well-known/jwks.json (public keys; not a secret).",
    )
    jwks_audience: str | None = Field(
        None,
        alias="JWKS_AUDIENCE",
        description="Set when JWKS_URL is auth's private Cloud Run URL: the keys are fetched with a Google-signed "
        "ID token for this audience (auth's URL) from the metadata server. Unset: a plain GET.",
    )
