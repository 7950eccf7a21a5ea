"""What ``grid plan`` needs from a project's validated stack file: each project's config module returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlanSettings:
    environment: str
    """Selects policies/config/<environment>.json."""
    usage: dict[str, Any]
    """The stack's usage assumptions for the price catalog (grid:usage shape)."""
    budget: float | None
    """Monthly budget in USD the cost table compares against, if any."""
