"""Labels the stack puts on resources and monitoring and the policy pack read back.

The policy pack states them too (policies/gcp.py, policies/operations.py): it is self-contained, so it cannot import
them from here; tests/test_structure.py checks that both spell them the same.
"""

from __future__ import annotations

from typing import Final

# On Cloud Run services, functions and uptime checks: which workload (`grid-service: auth|api|ai|...`).
SERVICE_LABEL: Final = "grid-service"
# A service that runs work outside requests says so with this label (value: what the work is).
BACKGROUND_LABEL: Final = "grid-background"
