"""Container entry point: `python -m app.common.serve app.auth.main:create_app`.

Honours PORT (Cloud Run sets it). The exec-form CMD makes this process PID 1's only child of note, so SIGTERM
from Cloud Run reaches uvicorn directly and in-flight requests drain before the instance stops.
"""

from __future__ import annotations

import os
import sys

import uvicorn


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m app.common.serve <module>:<factory>")
    uvicorn.run(
        argv[0],
        factory=True,
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8080")),
        log_config=None,
        # Cloud Run's front end is the only peer; X-Forwarded-* hops are interpreted by TRUSTED_PROXY_HOPS.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=8,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
