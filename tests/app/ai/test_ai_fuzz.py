"""Property-based fuzzing of the ai service's OpenAPI document against the running service (real model, fake
provider): never a 5xx, and every response as documented (tests/app/fuzz.py)."""

from __future__ import annotations

import pytest

from app.ai.main import create_app
from app.ai.settings import AiSettings
from tests.app.fuzz import CHECKS, FUZZ, schema_of

_OFFLINE = AiSettings(DATABASE_URL="postgresql://unused", JWKS_URL="http://unused", EVENTS_BACKEND="none")
schema = schema_of(create_app(_OFFLINE, configure_logs=False, embedder=object()))


@pytest.fixture(scope="module")
def fuzz_headers(make_user):
    return make_user().headers


@schema.parametrize()
@FUZZ
def test_ai_answers_as_documented(case, ai_server, fuzz_headers, fake_provider):
    case.call_and_validate(base_url=ai_server.url, headers=fuzz_headers, checks=CHECKS, timeout=30)
