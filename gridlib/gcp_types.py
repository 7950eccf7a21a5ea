"""Annotated string types for Google Cloud identifiers, shared by every config model (stack and bootstrap)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from gridlib import gcp_limits
from gridlib.config_errors import suggest

_PROJECT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
_BILLING_ACCOUNT = re.compile(r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")


def _project_id(value: str) -> str:
    if not _PROJECT_ID.match(value):
        raise ValueError(f"'{value}' is not a Google Cloud project ID (6-30 chars: lowercase letters, digits, -)")
    return value


def _region(value: str) -> str:
    if value not in gcp_limits.REGIONS:
        raise ValueError(f"unknown region '{value}'{suggest(value, gcp_limits.REGIONS)}")
    return value


def _billing_account(value: str) -> str:
    if not _BILLING_ACCOUNT.match(value):
        raise ValueError(f"'{value}' is not a billing account ID (XXXXXX-XXXXXX-XXXXXX)")
    return value


def _cron(value: str) -> str:
    if len(value.split()) != 5:
        raise ValueError(f"'{value}' is not a five-field cron expression like '0 3 * * *'")
    return value


def _time_zone(value: str) -> str:
    if problem := gcp_limits.time_zone_problem(value):
        raise ValueError(problem)
    return value


ProjectId = Annotated[str, AfterValidator(_project_id)]
Cron = Annotated[str, AfterValidator(_cron)]
"""A Cloud Scheduler schedule: five-field unix cron."""
TimeZone = Annotated[str, AfterValidator(_time_zone)]
"""A Cloud Scheduler time zone: a tz database name."""
Region = Annotated[str, AfterValidator(_region)]
BillingAccount = Annotated[str, AfterValidator(_billing_account)]
