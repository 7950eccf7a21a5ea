"""Is the load balancer's Google-managed certificate serving yet? DNS first, then the certificate's status.

Google provisions a managed certificate only once DNS for *every* host on it resolves to the load balancer's
address, and then takes up to 60 minutes; until then HTTPS to any of its hosts fails the TLS handshake.
https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs#update-dns
https://cloud.google.com/load-balancing/docs/ssl-certificates/troubleshooting#troubleshooting_google-managed_certificates

    python -m grid.certificate --project P --address 34.1.2.3 --timeout 3600 api.example.com candidate.api.example.com

waits (bounded) until every host resolves to the address and the certificate covering them is ACTIVE: exit 0,
or 1 with what is still wrong and how to fix it. The deploy workflow runs it before its smoke tests.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from grid.gcloud import GcloudError, gcloud_json

DOC = "https://cloud.google.com/load-balancing/docs/ssl-certificates/google-managed-certs"
# Provisioning "can take up to 60 minutes" after DNS and the load balancer are in place (DOC).
PROVISIONING_MINUTES = 60
# Statuses from which Google no longer retries: only a new certificate resource helps.
# https://cloud.google.com/compute/docs/reference/rest/v1/sslCertificates (managed.status)
FINAL_FAILURES = {"PROVISIONING_FAILED_PERMANENTLY", "RENEWAL_FAILED"}

Resolver = Callable[[str], set[str]]


@dataclass(frozen=True)
class CertificateState:
    name: str | None
    """None when no Google-managed certificate in the project lists every host."""
    status: str
    domains: dict[str, str] = field(default_factory=dict)
    """Host -> its own provisioning status (ACTIVE, PROVISIONING, FAILED_NOT_VISIBLE, ...)."""


def resolve(host: str) -> set[str]:
    """The IPv4 addresses the system resolver returns for ``host`` (none if it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]) for info in infos}


def dns_problems(hosts: Sequence[str], address: str, resolver: Resolver = resolve) -> list[str]:
    """One line per host whose DNS does not (yet) point at ``address``, saying which record to add."""
    problems = []
    for host in hosts:
        found = resolver(host)
        if address not in found:
            where = ", ".join(sorted(found)) or "nothing"
            problems.append(f"{host} resolves to {where}, not {address}: add the DNS record `{host}. A {address}`")
    return problems


def certificate_state(project: str, hosts: Sequence[str]) -> CertificateState:
    """The managed certificate whose domains include every host (``gcloud compute ssl-certificates list``)."""
    for certificate in gcloud_json("compute", "ssl-certificates", "list", f"--project={project}") or []:
        managed = certificate.get("managed") or {}
        if set(hosts) <= set(managed.get("domains") or []):
            return CertificateState(
                certificate["name"], managed.get("status", "PROVISIONING"), dict(managed.get("domainStatus") or {})
            )
    return CertificateState(None, "MISSING")


def certificate_problems(state: CertificateState, project: str, hosts: Sequence[str]) -> list[str]:
    if state.name is None:
        return [f"no Google-managed certificate in {project} lists {', '.join(hosts)}: has `pulumi up` run?"]
    if state.status == "ACTIVE":
        return []
    pending = ", ".join(f"{host} {status}" for host, status in sorted(state.domains.items()) if status != "ACTIVE")
    return [f"certificate {state.name} is {state.status}" + (f" ({pending})" if pending else "")]


def readiness(project: str, address: str, hosts: Sequence[str], resolver: Resolver = resolve) -> tuple[list[str], bool]:
    """(what is not ready yet, whether waiting can no longer help)."""
    problems = dns_problems(hosts, address, resolver)
    try:
        state = certificate_state(project, hosts)
    except GcloudError as exc:
        return [*problems, f"cannot read the certificates of {project}: {exc}"], False
    return [*problems, *certificate_problems(state, project, hosts)], state.status in FINAL_FAILURES


def wait(
    project: str,
    address: str,
    hosts: Sequence[str],
    timeout: float,
    *,
    interval: float = 30.0,
    resolver: Resolver | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    out: Callable[[str], None] = print,
) -> int:
    """Poll until ready (0) or ``timeout`` seconds pass / provisioning failed for good (1). Prints changes only."""
    deadline = clock() + timeout
    last: list[str] = []
    while True:
        problems, final = readiness(project, address, hosts, resolver or resolve)
        if not problems:
            out(f"ready: {', '.join(hosts)} resolve to {address} and their certificate is ACTIVE")
            return 0
        if problems != last:
            for problem in problems:
                out(f"waiting: {problem}")
            last = problems
        if final:
            out(
                f"FAIL: {'; '.join(problems)}. Google will not retry: fix DNS, then replace the certificate "
                f"(`pulumi up --replace <its URN>`). See {DOC}"
            )
            return 1
        if clock() >= deadline:
            out(
                f"FAIL: not ready after {timeout / 60:.0f} min: {'; '.join(problems)}. Google provisions the "
                f"certificate only once DNS for every host points at {address}, then takes up to "
                f"{PROVISIONING_MINUTES} min ({DOC}). Nothing was smoke tested or promoted; re-run the deploy once "
                "the records are in place."
            )
            return 1
        sleep(interval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grid.certificate", description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--address", required=True, help="the load balancer's IP address (output gatewayAddress)")
    parser.add_argument("--timeout", type=float, default=PROVISIONING_MINUTES * 60, help="seconds to wait at most")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks")
    parser.add_argument("hosts", nargs="+", help="every host on the certificate")
    args = parser.parse_args(argv)
    return wait(args.project, args.address, args.hosts, args.timeout, interval=args.interval)


if __name__ == "__main__":
    sys.exit(main())
