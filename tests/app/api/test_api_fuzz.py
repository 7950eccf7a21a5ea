"""Property-based fuzzing of the api's OpenAPI document against the running service: never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.api.main import create_app
from app.api.settings import ApiSettings

# The document comes from the app itself (building it touches no database); requests go to the live server.
_OFFLINE = ApiSettings(DATABASE_URL="postgresql://unused", JWKS_URL="http://unused", EVENTS_BACKEND="none")
schema = schemathesis.openapi.from_dict(create_app(_OFFLINE, configure_logs=False).openapi())


@pytest.fixture(scope="module")
def fuzz_headers(make_user, forwarded_for):
    return {**make_user().headers, **forwarded_for()}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_5xx(case, api_server, fuzz_headers):
    case.call_and_validate(base_url=api_server.url, headers=fuzz_headers, checks=[not_a_server_error], timeout=15)
