"""A service of a team's own for tests/grid/test_local_apps.py, named by its registry entry's import paths: a module of
its own, so that collecting the tests does not import the app settings (pydantic-settings) it is built on."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.common.settings import ServiceSettings


class EchoSettings(ServiceSettings):
    jwks_url: str = Field("unset", alias="JWKS_URL", description="Where auth's keys are.")


def create_echo(settings: EchoSettings, *, configure_logs: bool = True) -> Any:
    return ("echo app", settings)
