"""What the fuzz suites check on every response, and how much they fuzz: bounded and derandomized for CI.

Responses are pre-encoded (from the cache, or JSONResponse), so FastAPI's `response_model` validates nothing: the
checks here compare each response with its documented status codes, content type, headers and schema.
"""

from __future__ import annotations

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

CHECKS = [
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
