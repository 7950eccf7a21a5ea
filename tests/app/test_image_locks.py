"""The service images install hash-pinned locks: each lock is current with its requirements.txt (offline check)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Image source directories with a hash-pinned lock (the bundled services and the scraper job).
LOCKED = ("app/api", "app/auth", "jobs/scraper")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")


def _pins(lock: str) -> dict[str, str]:
    return {canonicalize_name(m.group(1)): m.group(2) for line in lock.splitlines() if (m := PIN.match(line))}


@pytest.mark.parametrize("service", LOCKED)
def test_lock_satisfies_the_requirements_and_pins_hashes(service: str) -> None:
    lock = (ROOT / service / "requirements.lock").read_text()
    pins = _pins(lock)
    requirements = [
        Requirement(line)
        for line in (ROOT / service / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    stale = [
        f"{r.name} {pins.get(canonicalize_name(r.name), 'missing')} vs {r.specifier}"
        for r in requirements
        if pins.get(canonicalize_name(r.name)) is None or not r.specifier.contains(pins[canonicalize_name(r.name)])
    ]
    assert not stale, f"run `make lock`: {stale}"
    # Every pin carries at least one hash, so pip's --require-hashes accepts the file.
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if PIN.match(entry)), "a pin without hashes"


@pytest.mark.parametrize("service", LOCKED)
def test_dockerfile_installs_the_lock_with_hashes(service: str) -> None:
    dockerfile = (ROOT / service / "Dockerfile").read_text()
    assert f"COPY {service}/requirements.lock" in dockerfile
    assert "pip install --require-hashes --no-deps --requirement /tmp/requirements.lock" in dockerfile
