"""Labels the stack puts on resources and the policy pack and monitoring read back: one spelling each."""

from __future__ import annotations

from typing import Final

# On Cloud Run services, functions and uptime checks: which workload (`grid-service: auth|api|ai|...`).
SERVICE_LABEL: Final = "grid-service"
# A service that runs work outside requests says so with this label (value: what the work is).
BACKGROUND_LABEL: Final = "grid-background"
