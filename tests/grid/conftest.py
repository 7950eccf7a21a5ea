"""Fixtures shared by the tests that need every shipped stack's plan (the scanner and the analyzer protocol)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shipped_plans():
    """Scan target (dev, staging, prod, bootstrap) → its offline Plan: planned once per test session."""
    from grid import scanner
    from tests.conftest import shipped_plan

    return {target: shipped_plan(stack, project=project) for target, (project, stack) in scanner.targets().items()}
