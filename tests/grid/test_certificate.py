"""grid.certificate: the deploy waits, bounded, until DNS points at the load balancer and the certificate is ACTIVE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grid import certificate
from tests.grid.fake_gcloud import install, ok

PROJECT = "acme-grid-prod"
ADDRESS = "34.120.1.2"
HOSTS = ["api.acme.example", "candidate.api.acme.example"]
LIST = f"compute ssl-certificates list --project={PROJECT} --format=json"


def cert(status: str, **domains: str) -> list[dict[str, Any]]:
    by_host = {host: domains.get(host.split(".")[0], status) for host in HOSTS}
    return [
        {"name": "other", "managed": {"domains": ["www.acme.example"], "status": "ACTIVE"}},
        {"name": "grid-prod-lb-cert-1", "managed": {"domains": HOSTS, "status": status, "domainStatus": by_host}},
    ]


class Clock:
    """Time that only moves when the code under test sleeps: no real waiting, no timing in the verdict."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(resolver: Any, timeout: float = 600, interval: float = 30) -> tuple[int, list[str], Clock]:
    clock, lines = Clock(), []
    code = certificate.wait(
        PROJECT, ADDRESS, HOSTS, timeout, interval=interval, resolver=resolver, clock=clock, sleep=clock.sleep,
        out=lines.append,
    )  # fmt: skip
    return code, lines, clock


def pointing_at(address: str) -> Any:
    return lambda host: {address}


def test_waits_through_provisioning_until_active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = install(
        tmp_path, monkeypatch, {LIST: [ok(cert("PROVISIONING")), ok(cert("PROVISIONING")), ok(cert("ACTIVE"))]}
    )
    code, lines, clock = run(pointing_at(ADDRESS))
    assert code == 0
    assert lines[0] == "waiting: certificate grid-prod-lb-cert-1 is PROVISIONING (api.acme.example PROVISIONING, " \
        "candidate.api.acme.example PROVISIONING)"  # fmt: skip
    assert lines[-1].startswith("ready:")
    assert log.read_text().count(LIST) == 3 and clock.now == 60


def test_wrong_dns_fails_at_the_deadline_naming_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {LIST: [ok(cert("PROVISIONING", candidate="FAILED_NOT_VISIBLE"))]})
    resolver = {"api.acme.example": {ADDRESS}, "candidate.api.acme.example": set()}.__getitem__
    # Polled every 2 minutes, not 30 s: each poll is a (fake) gcloud process, and six of them show the same.
    code, lines, clock = run(resolver, timeout=600, interval=120)
    assert code == 1 and clock.now >= 600
    assert "waiting: candidate.api.acme.example resolves to nothing, not 34.120.1.2: add the DNS record " \
        "`candidate.api.acme.example. A 34.120.1.2`" in lines  # fmt: skip
    assert (
        lines[-1].startswith("FAIL: not ready after 10 min:")
        and "candidate.api.acme.example FAILED_NOT_VISIBLE" in lines[-1]
    )
    assert certificate.DOC in lines[-1]
    # Unchanged problems are printed once, not every poll.
    assert sum(line.startswith("waiting:") for line in lines) == 2


def test_a_permanent_failure_stops_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {LIST: [ok(cert("PROVISIONING_FAILED_PERMANENTLY"))]})
    code, lines, clock = run(pointing_at(ADDRESS))
    assert code == 1 and clock.now == 0
    assert "Google will not retry" in lines[-1]


def test_no_certificate_for_the_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {LIST: [ok([])]})
    code, lines, _ = run(pointing_at(ADDRESS), timeout=0)
    assert code == 1
    assert "no Google-managed certificate in acme-grid-prod lists api.acme.example" in lines[0]


def test_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    install(tmp_path, monkeypatch, {LIST: [ok(cert("ACTIVE"))]})
    monkeypatch.setattr(certificate, "resolve", pointing_at(ADDRESS))
    assert certificate.main(["--project", PROJECT, "--address", ADDRESS, "--timeout", "0", *HOSTS]) == 0
    assert capsys.readouterr().out.startswith("ready:")
