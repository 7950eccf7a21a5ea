"""cost-cap against a real HTTP server speaking the metadata and Cloud Run Admin v2 APIs (on loopback)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.functions.cost_cap import main as cost_cap

PROJECT, REGION = "acme-grid-dev", "us-central1"
STACK_PREFIX = f"projects/{PROJECT}/locations/{REGION}/services/grid-dev-"


class FakeGoogle:
    """Metadata token endpoint + Cloud Run services get/patch, recording every call.

    Authorises like Cloud Run under cost-cap's conditional grant (resource.name starts with the stack's prefix):
    get and patch of a service of the stack pass; listing the location's services is denied."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.services = {s["name"]: s for s in services}
        self.patches: list[tuple[str, dict]] = []
        self.gets: list[str] = []
        self.tokens_seen: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/computeMetadata/"):
                    assert self.headers["Metadata-Flavor"] == "Google"
                    return self._reply({"access_token": "tok-123", "expires_in": 3600})
                fake.tokens_seen.add(self.headers.get("Authorization", ""))
                name = self.path.split("?")[0].removeprefix("/v2/")
                if not name.startswith(STACK_PREFIX):  # the location: a list call, outside the condition
                    return self._reply({"error": {"code": 403, "status": "PERMISSION_DENIED"}}, 403)
                if name not in fake.services:
                    return self._reply({"error": {"code": 404, "status": "NOT_FOUND"}}, 404)
                fake.gets.append(name)
                return self._reply(fake.services[name])

            def do_PATCH(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                name = self.path.split("?")[0].removeprefix("/v2/")
                assert "updateMask=scaling" in self.path and name.startswith(STACK_PREFIX)
                fake.patches.append((name, body))
                fake.services[name]["scaling"] = body["scaling"]
                self._reply({"name": f"{name}/operations/1"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeGoogle:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def service(name: str, stack: str) -> dict[str, Any]:
    return {"name": f"projects/{PROJECT}/locations/{REGION}/services/{name}", "labels": {"stack": stack}}


@pytest.fixture
def google(monkeypatch) -> Iterator[FakeGoogle]:
    services = [
        service("grid-dev-api", "grid-dev"),
        service("grid-dev-auth", "grid-dev"),
        service("other-team-api", "other"),
        service("grid-dev-cost-cap", "grid-dev"),
        service("grid-dev-ml-analytics", "grid-dev"),
    ]
    with FakeGoogle(services) as fake:
        monkeypatch.setattr(cost_cap, "METADATA", fake.url)
        monkeypatch.setattr(cost_cap, "RUN_API", fake.url)
        yield fake


# What the stack sets: its services and functions by name (korean-nlp is named but not deployed yet).
SERVICES = "grid-dev-auth,grid-dev-api,grid-dev-ai,grid-dev-korean-nlp,grid-dev-ml-analytics,grid-dev-cost-cap"
ENV = {"GOOGLE_CLOUD_PROJECT": PROJECT, "REGION": REGION, "SERVICES": SERVICES, "K_SERVICE": "grid-dev-cost-cap"}


def test_over_budget_stops_every_service_of_the_stack_but_itself(google: FakeGoogle) -> None:
    stopped = cost_cap.handle({"costAmount": 15.2, "budgetAmount": 15.0}, ENV)
    assert sorted(stopped) == ["grid-dev-api", "grid-dev-auth", "grid-dev-ml-analytics"]
    assert "grid-dev-cost-cap" not in {name.rsplit("/", 1)[-1] for name in google.gets}
    assert all(body == {"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0}} for _, body in google.patches)
    assert google.tokens_seen == {"Bearer tok-123"}
    # A second notification finds them stopped and changes nothing.
    assert cost_cap.handle({"costAmount": 16.0, "budgetAmount": 15.0}, ENV) == []
    assert len(google.patches) == 3


@pytest.mark.parametrize(
    "notification",
    [{"costAmount": 14.99, "budgetAmount": 15.0}, {"budgetAmount": 15.0}, {"costAmount": "x", "budgetAmount": 1}],
)
def test_under_budget_or_malformed_does_nothing(google: FakeGoogle, notification: dict) -> None:
    assert cost_cap.handle(notification, ENV) == []
    assert google.patches == []


def test_cloud_event_entry_point_decodes_the_pubsub_message(google: FakeGoogle, monkeypatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    payload = base64.b64encode(json.dumps({"costAmount": 20, "budgetAmount": 15}).encode()).decode()

    class Event:
        data = {"message": {"data": payload}}

    cost_cap.cost_cap(Event())
    assert len(google.patches) == 3
