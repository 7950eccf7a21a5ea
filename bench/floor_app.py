"""The cold-start floor: the smallest FastAPI app, served exactly as the services are.

`python -m app.common.serve bench.floor_app:create_app` (uvicorn, one process) for the Cloud Run services; the
`floor` function under functions-framework for the Cloud Functions. A service's cold start is reported as a ratio
to this, measured side by side in the same run, because the machine is shared and absolute times drift.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def floor(request: Any) -> tuple[str, int]:
    """A functions-framework HTTP function that answers at once."""
    return '{"status": "ok"}', 200
