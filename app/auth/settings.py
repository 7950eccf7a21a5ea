"""Environment variables of the auth service (in addition to ServiceSettings')."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from app.common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    jwt_signing_key: SecretStr | None = Field(
        None,
        alias="JWT_SIGNING_KEY",
        description=(
            "PEM (PKCS#8) EC P-256 private key signing access tokens, from Secret Manager; required unless"
            " ENVIRONMENT is local or test."
        ),
    )
    jwt_key_file: Path | None = Field(
        None,
        alias="JWT_KEY_FILE",
        description="Local only: file where the signing key is generated on first start and kept.",
    )
    jwt_previous_public_keys: str = Field(
        "",
        alias="JWT_PREVIOUS_PUBLIC_KEYS",
        description=(
            "PEM public keys of earlier signing-key generations, published in the JWKS beside the signing key's"
            " so tokens they signed verify until they expire; never used to sign (grid:signingKey rotation)."
        ),
    )
    access_token_ttl_seconds: int = Field(
        900, ge=30, le=3600, alias="ACCESS_TOKEN_TTL_SECONDS", description="Access token lifetime."
    )
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=300, alias="REFRESH_TOKEN_TTL_SECONDS", description="Refresh token lifetime."
    )
    login_max_failures_per_account: int = Field(
        5, ge=1, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT", description="Failed logins per email before 429."
    )
    login_max_failures_per_ip: int = Field(
        50, ge=1, alias="LOGIN_MAX_FAILURES_PER_IP", description="Failed logins per client IP before 429."
    )
    login_failure_window_seconds: int = Field(
        900, ge=1, alias="LOGIN_FAILURE_WINDOW_SECONDS", description="Window over which failures count."
    )
    register_max_per_ip: int = Field(
        20, ge=1, alias="REGISTER_MAX_PER_IP", description="Registrations per client IP per window."
    )
    register_window_seconds: int = Field(
        3600, ge=1, alias="REGISTER_WINDOW_SECONDS", description="Registration rate-limit window."
    )
    argon2_time_cost: int = Field(3, ge=1, le=10, alias="ARGON2_TIME_COST", description="argon2id passes.")
    argon2_memory_kib: int = Field(
        65536, ge=1024, alias="ARGON2_MEMORY_KIB", description="argon2id memory per hash in KiB."
    )
    argon2_parallelism: int = Field(2, ge=1, le=16, alias="ARGON2_PARALLELISM", description="argon2id lanes.")

    @model_validator(mode="after")
    def _key_source(self) -> AuthSettings:
        if self.jwt_signing_key is None:
            if self.environment not in ("local", "test"):
                raise ValueError("JWT_SIGNING_KEY is required outside ENVIRONMENT=local")
            if self.jwt_key_file is None:
                raise ValueError("set JWT_SIGNING_KEY, or JWT_KEY_FILE for a locally generated key")
        return self
