"""Property-based fuzzing of the auth service's OpenAPI document against the running service: never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.auth.main import create_app
from app.auth.settings import AuthSettings


@pytest.fixture(scope="module")
def fuzz_headers(make_user):
    return make_user().headers


def _schema() -> schemathesis.schemas.BaseSchema:
    import tempfile
    from pathlib import Path

    # The document comes from the app itself (building it touches no database); requests go to the live server.
    with tempfile.TemporaryDirectory() as tmp:
        offline = AuthSettings(DATABASE_URL="postgresql://unused", JWT_KEY_FILE=Path(tmp) / "k.pem")
        return schemathesis.openapi.from_dict(create_app(offline, configure_logs=False).openapi())


schema = _schema()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_auth_never_answers_5xx(case, auth_server, fuzz_headers, forwarded_for):
    # A fresh client IP per case: the fuzzer's failed logins must not throttle other tests' clients.
    headers = {**fuzz_headers, **forwarded_for()}
    case.call_and_validate(base_url=auth_server.url, headers=headers, checks=[not_a_server_error], timeout=15)
