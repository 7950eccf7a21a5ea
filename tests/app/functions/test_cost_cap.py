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


class FakeGoogle:
    """Metadata token endpoint + Cloud Run services list/patch, recording every call."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.services = {s["name"]: s for s in services}
        self.patches: list[tuple[str, dict]] = []
        self.tokens_seen: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/computeMetadata/"):
                    assert self.headers["Metadata-Flavor"] == "Google"
                    return self._reply({"access_token": "tok-123", "expires_in": 3600})
                fake.tokens_seen.add(self.headers.get("Authorization", ""))
                services = list(fake.services.values())
                if "pageToken=2" in self.path:
                    return self._reply({"services": services[2:]})
                return self._reply({"services": services[:2], "nextPageToken": "2" if len(services) > 2 else ""})

            def do_PATCH(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                name = self.path.split("?")[0].removeprefix("/v2/")
                assert "updateMask=scaling" in self.path
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
        service("grid-dev-korean-nlp", "grid-dev"),
    ]
    with FakeGoogle(services) as fake:
        monkeypatch.setattr(cost_cap, "METADATA", fake.url)
        monkeypatch.setattr(cost_cap, "RUN_API", fake.url)
        yield fake


ENV = {"GOOGLE_CLOUD_PROJECT": PROJECT, "REGION": REGION, "STACK": "grid-dev", "K_SERVICE": "grid-dev-cost-cap"}


def test_over_budget_stops_every_service_of_the_stack_but_itself(google: FakeGoogle) -> None:
    stopped = cost_cap.handle({"costAmount": 15.2, "budgetAmount": 15.0}, ENV)
    assert sorted(stopped) == ["grid-dev-api", "grid-dev-auth", "grid-dev-korean-nlp"]
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
