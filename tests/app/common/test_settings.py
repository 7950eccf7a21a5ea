"""The env-var contract: each service's settings class lists the variables it reads, secrets marked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.api.settings import ApiSettings
from app.auth.settings import AuthSettings
from app.common.settings import ServiceSettings


def _names(cls) -> dict[str, tuple[bool, bool]]:
    return {v.name: (v.required, v.secret) for v in cls.env_vars()}


def test_every_service_lists_its_variables_with_secrets_marked():
    common = _names(ServiceSettings)
    assert common["DATABASE_URL"] == (True, True)
    assert common["REDIS_URL"] == (False, True)
    assert {"LOG_LEVEL", "ENVIRONMENT", "GOOGLE_CLOUD_PROJECT", "JWT_ISSUER", "JWT_AUDIENCE"} <= set(common)

    auth = _names(AuthSettings)
    assert set(common) < set(auth)
    assert auth["JWT_SIGNING_KEY"] == (False, True)
    assert auth["JWT_KEY_FILE"][1] is False

    api = _names(ApiSettings)
    assert set(common) < set(api)
    assert api["JWKS_URL"] == (True, False)
    assert {"EVENTS_BACKEND", "PUBSUB_TOPIC"} <= set(api)
    # Only connection strings and the signing key are secrets.
    assert {n for n, (_, secret) in auth.items() if secret} == {"DATABASE_URL", "REDIS_URL", "JWT_SIGNING_KEY"}
    assert {n for n, (_, secret) in api.items() if secret} == {"DATABASE_URL", "REDIS_URL"}
    for var in [*AuthSettings.env_vars(), *ApiSettings.env_vars()]:
        assert var.name.isupper() and var.description


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db")
    monkeypatch.setenv("JWKS_URL", "https://auth/jwks")
    monkeypatch.setenv("EVENTS_BACKEND", "pubsub")
    monkeypatch.setenv("PUBSUB_TOPIC", "projects/my-project/topics/messages")
    s = ApiSettings()
    assert s.database_url.get_secret_value() == "postgresql://db"
    assert "postgresql://db" not in repr(s)
    assert s.pubsub_topic == "projects/my-project/topics/messages"


def test_inconsistent_settings_are_refused():
    with pytest.raises(ValidationError, match="PUBSUB_TOPIC"):
        ApiSettings(DATABASE_URL="x", JWKS_URL="y", EVENTS_BACKEND="pubsub")
    with pytest.raises(ValidationError, match="REDIS_URL"):
        ApiSettings(DATABASE_URL="x", JWKS_URL="y", EVENTS_BACKEND="redis")
    with pytest.raises(ValidationError):
        ApiSettings(JWKS_URL="y", EVENTS_BACKEND="none")
