"""Property-based fuzzing of the api's OpenAPI document against the running service: never a 5xx, and every
response as documented (tests/app/fuzz.py)."""

from __future__ import annotations

import pytest

from app.api.main import create_app
from app.api.settings import ApiSettings
from tests.app.fuzz import CHECKS, FUZZ, schema_of

_OFFLINE = ApiSettings(DATABASE_URL="postgresql://unused", JWKS_URL="http://unused", EVENTS_BACKEND="none")
schema = schema_of(create_app(_OFFLINE, configure_logs=False))


@pytest.fixture(scope="module")
def fuzz_headers(make_user, forwarded_for):
    return {**make_user().headers, **forwarded_for()}


@schema.parametrize()
@FUZZ
def test_api_answers_as_documented(case, api_server, fuzz_headers):
    case.call_and_validate(base_url=api_server.url, headers=fuzz_headers, checks=CHECKS, timeout=15)
