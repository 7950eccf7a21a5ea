"""Plain `grid local` serves the workload registry's bundled services (grid/local.py build_apps), each built by its
entry's app factory from its settings class: nothing in grid local names a service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import grid.local
from gridlib.workloads import BUNDLED_BY_NAME, Workload
from stacks.workloads import GRID_ROOT, bundled

ECHO = Workload(
    "echo",
    "service",
    "app/echo",
    route="/echo",
    bundled=True,
    settings_class="tests.grid.echo_service:EchoSettings",
    app="tests.grid.echo_service:create_echo",
)


@pytest.mark.parametrize("service", bundled("service"), ids=lambda w: w.name)
def test_a_services_app_factory_is_what_its_image_serves(service: Workload) -> None:
    dockerfile = (GRID_ROOT / service.source / "Dockerfile").read_text()
    commands = [json.loads(line[len("CMD ") :]) for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert commands and all(command[-1] == service.app for command in commands), commands


def test_a_service_added_to_the_registry_is_served_without_editing_grid_local(monkeypatch, tmp_path: Path) -> None:
    auth = BUNDLED_BY_NAME["auth"]
    monkeypatch.setattr(grid.local, "bundled", lambda kind: (auth, ECHO) if kind == "service" else ())
    router = grid.local.build_apps(
        database_url="postgresql://grid@localhost/grid", redis_url=None, data_dir=tmp_path, port=8123, LOG_LEVEL="DEBUG"
    )
    assert set(router.apps) == {"auth", "echo"}
    kind, settings = router.apps["echo"]
    assert kind == "echo app"
    # The local values of the variables its settings class declares, and the overrides.
    assert settings.jwks_url == "http://127.0.0.1:8123/auth/.well-known/jwks.json"
    assert settings.environment == "local" and settings.log_level == "DEBUG"
    assert settings.database_url.get_secret_value() == "postgresql://grid@localhost/grid"
    from fastapi import FastAPI

    assert isinstance(router.apps["auth"], FastAPI)  # the real auth, from its own registry entry
