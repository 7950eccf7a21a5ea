"""Publishing to Google Pub/Sub through its REST API (``topics.publish``), shared by the api's outbox relay and
the jobs that publish events (jobs/scraper), authenticated by the metadata server's token (app/common/gcp.py).
Standard library and httpx besides app/common/gcp.py and tls.py, so a job's image copies these three modules."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.common import tls

if TYPE_CHECKING:
    import httpx

PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    time: str
    data: dict[str, Any]


class PubSubPublisher:
    """Google Pub/Sub through its REST API (`topics.publish`), authenticated as the service account.

    With PUBSUB_EMULATOR_HOST set it talks plain HTTP to the emulator without credentials, as Google's client
    libraries do.
    """

    def __init__(self, topic: str, *, emulator_host: str | None = None, http: httpx.AsyncClient | None = None):
        import httpx  # only deployments that publish to Pub/Sub pay for importing it

        from app.common.gcp import AccessToken

        self.topic = topic
        self.http = http or httpx.AsyncClient(timeout=10.0, verify=tls.context())
        self.base = f"http://{emulator_host}" if emulator_host else PUBSUB_ENDPOINT
        self.token = None if emulator_host else AccessToken(self.http)

    async def publish(self, events: list[Event]) -> None:
        messages = [
            {
                "data": base64.b64encode(json.dumps(e.data, separators=(",", ":")).encode()).decode(),
                "attributes": {"type": e.type, "id": e.id, "time": e.time},
            }
            for e in events
        ]
        headers = {"Authorization": f"Bearer {await self.token.get()}"} if self.token else {}
        resp = await self.http.post(
            f"{self.base}/v1/{self.topic}:publish", json={"messages": messages}, headers=headers
        )
        resp.raise_for_status()
        ids = resp.json().get("messageIds", [])
        if len(ids) != len(messages):
            raise RuntimeError("Pub/Sub accepted fewer messages than sent")

    async def close(self) -> None:
        await self.http.aclose()
