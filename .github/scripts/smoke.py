"""Smoke test a deployed Grid: liveness of every service, then a register/login round trip.

    python .github/scripts/smoke.py https://api.staging.example.com
    python .github/scripts/smoke.py https://lb.example --service auth=https://candidate---grid-staging-auth-abc-uc.a.run.app

``--service NAME=URL`` sends that service's requests (the gateway's routing: ``/auth/*`` to auth, ``/ai/*`` to
ai, the rest to api) to URL instead, e.g. a revision's tag URL before it takes traffic. If ``SMOKE_ID_TOKEN`` is
set it is sent as the bearer token Cloud Run's IAM check expects. The services, their health paths and the
routing come from the workload registry (gridlib/workloads.py, stacks/routes.py: standard library only, read from
this checkout). Exit 0 pass, 1 fail.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: the registry, not the app's deps

from gridlib.workloads import bundled
from stacks.routes import route_of

TIMEOUT = 15.0
SERVICES = {w.name: w for w in bundled("service")}


class SmokeFailure(Exception):
    pass


class Client:
    def __init__(self, base_url: str, services: dict[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.services = {name: url.rstrip("/") for name, url in services.items()}
        self.token = os.environ.get("SMOKE_ID_TOKEN", "")
        # Behind API Gateway (dev) every route but the probes needs an API key of the gateway's managed service
        # (https://cloud.google.com/api-gateway/docs/authenticate-api-keys); the load balancer ignores it.
        self.api_key = os.environ.get("SMOKE_API_KEY", "")

    def url(self, path: str) -> str:
        route = route_of(path)
        return self.services.get(route.workload if route else "", self.base_url) + path

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(path), data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.api_key:
            request.add_header("x-api-key", self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError:
        return raw[:200].decode(errors="replace")


def wait_healthy(client: Client, path: str, deadline: float) -> None:
    """A new revision may still be starting: retry until healthy or the deadline passes."""
    last = "no response"
    while True:
        try:
            status, body = client.request("GET", path)
            if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                print(f"ok   GET {path}")
                return
            last = f"{status} {body}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last = str(exc)
        if time.monotonic() > deadline:
            raise SmokeFailure(f"GET {client.url(path)}: not healthy ({last})")
        time.sleep(3)


def register_login(client: Client) -> None:
    email = f"smoke-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(18)
    status, body = client.request(
        "POST", "/auth/register", {"email": email, "password": password, "display_name": "Smoke Test"}
    )
    if status not in (200, 201) or not isinstance(body, dict) or body.get("email") != email:
        raise SmokeFailure(f"POST /auth/register: {status} {body}")
    print("ok   POST /auth/register")
    status, body = client.request("POST", "/auth/login", {"email": email, "password": password})
    if (
        status != 200
        or not isinstance(body, dict)
        or body.get("token_type") != "bearer"
        or not body.get("access_token")
    ):
        raise SmokeFailure(f"POST /auth/login: {status} {body}")
    print("ok   POST /auth/login")


def run(client: Client, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    for service in SERVICES.values():
        if service.health:
            wait_healthy(client, service.health, deadline)
    register_login(client)


def _service(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or name not in SERVICES or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected {'|'.join(SERVICES)}=https://..., got {value!r}")
    return name, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="where every path goes unless --service says otherwise")
    parser.add_argument("--service", type=_service, action="append", default=[], metavar="NAME=URL")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the services to be healthy")
    args = parser.parse_args(argv)
    try:
        run(Client(args.base_url, dict(args.service)), args.wait)
    except SmokeFailure as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
