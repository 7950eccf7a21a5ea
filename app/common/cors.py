"""What a browser may send cross-origin to any Grid workload, stated once for the services' CORS middleware and
the functions' (standard library only: the functions carry this file in their sources).

The origins come from CORS_ALLOWED_ORIGINS (a JSON list; grid:gateway.allowedOrigins in the plan). API Gateway
cannot answer a preflight itself, so it passes OPTIONS through and the workload answers
(https://cloud.google.com/endpoints/docs/openapi/support-cors). Credentials are bearer tokens in a header, never
cookies, so no response allows credentials.
"""

from __future__ import annotations

import json
import os
from typing import Any

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The caller's access token, JSON bodies, API Gateway's API key, the api's idempotent writes.
ALLOWED_HEADERS = ("authorization", "content-type", "x-api-key", "idempotency-key")
MAX_AGE_SECONDS = 600


def allowed_origins() -> list[str]:
    """The origins of CORS_ALLOWED_ORIGINS; empty when unset."""
    origins = json.loads(os.environ.get("CORS_ALLOWED_ORIGINS") or "[]")
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ValueError('CORS_ALLOWED_ORIGINS must be a JSON list of origins, e.g. ["https://app.example.com"]')
    return origins


def flask_cors_options() -> dict[str, Any]:
    """flask-cors' ``cross_origin`` arguments for the functions: the same rules as the services' middleware."""
    return {
        "origins": allowed_origins(),
        "methods": list(ALLOWED_METHODS),
        "allow_headers": list(ALLOWED_HEADERS),
        "max_age": MAX_AGE_SECONDS,
    }
