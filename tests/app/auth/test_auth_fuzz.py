"""Property-based fuzzing of the auth service's OpenAPI document against the running service: never a 5xx, and
every response as documented (tests/app/fuzz.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from app.auth.main import create_app
from app.auth.settings import AuthSettings
from tests.app.fuzz import CHECKS, FUZZ, schema_of


@pytest.fixture(scope="module")
def fuzz_headers(make_user):
    return make_user().headers


with tempfile.TemporaryDirectory() as _tmp:
    schema = schema_of(
        create_app(
            AuthSettings(DATABASE_URL="postgresql://unused", JWT_KEY_FILE=Path(_tmp) / "k.pem"), configure_logs=False
        )
    )


@schema.parametrize()
@FUZZ
def test_auth_answers_as_documented(case, auth_server, fuzz_headers, forwarded_for):
    # A fresh client IP per case: the fuzzer's failed logins must not throttle other tests' clients.
    headers = {**fuzz_headers, **forwarded_for()}
    case.call_and_validate(base_url=auth_server.url, headers=headers, checks=CHECKS, timeout=15)
