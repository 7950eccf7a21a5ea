"""What the fuzz suites check on every response, and how much they fuzz: bounded and derandomized for CI.

Responses are pre-encoded (from the cache, or JSONResponse), so FastAPI's `response_model` validates nothing: the
checks here compare each response with its documented status codes, content type, headers and schema, and with the
caching policy (app/common/caching.py).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.common.caching import NO_STORE, PRIVATE, PUBLIC_JWKS

# The only responses a shared cache may keep: a route made public is added here, on purpose.
PUBLIC = {"/auth/.well-known/jwks.json": PUBLIC_JWKS}
_OPERATIONAL = re.compile(r"^(/auth|/ai)?/(health|ready)$")


def expected_cache_control(path: str, status: int) -> str:
    """The Cache-Control a response to the route `path` (its template) with `status` carries (app/common/caching.py)."""
    if status >= 400:
        return NO_STORE
    return PUBLIC.get(path) or (NO_STORE if _OPERATIONAL.match(path) else PRIVATE)


@schemathesis.check
def cache_control_conformance(ctx: Any, response: Any, case: Any) -> None:
    """Every response says exactly once how it may be cached, as the policy says for its route and status."""
    values = {k.lower(): v for k, v in response.headers.items()}.get("cache-control", [])
    want = expected_cache_control(case.operation.path, response.status_code)
    assert values == [want], f"{case.operation.path} {response.status_code}: Cache-Control {values}, expected {want!r}"


CHECKS = [
    cache_control_conformance,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    allow_header_conformance,
]

# Examples per operation: every public operation of auth, api and ai, in well under a minute each service.
FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def schema_of(app: Any) -> schemathesis.schemas.BaseSchema:
    """The document comes from the app itself (building it touches no database); requests go to a live server."""
    return schemathesis.openapi.from_dict(app.openapi())
