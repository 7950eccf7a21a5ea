"""The cloud event path: the indexer pulls a subscription through Pub/Sub's REST API (here a real local HTTP
server speaking `:pull` and `:acknowledge`, as the emulator does) and acknowledges only what it has handled."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.ai.indexer import Indexer, MessageRef, PubSubPuller

SUBSCRIPTION = "projects/acme-grid-dev/subscriptions/grid-dev-ai-indexer"


class FakePubSub:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.pending = {f"ack-{i}": m for i, m in enumerate(messages)}
        self.acked: list[str] = []
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.paths.append(self.path)
                if self.path.endswith(":pull"):
                    items = list(fake.pending.items())[: body["maxMessages"]]
                    reply = {"receivedMessages": [{"ackId": k, "message": m} for k, m in items]}
                elif self.path.endswith(":acknowledge"):
                    for ack_id in body["ackIds"]:
                        fake.pending.pop(ack_id, None)
                        fake.acked.append(ack_id)
                    reply = {}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


def _message(event_type: str, payload: Any) -> dict[str, Any]:
    data = payload if isinstance(payload, str) else base64.b64encode(json.dumps(payload).encode()).decode()
    return {"data": data, "attributes": {"type": event_type, "id": str(uuid.uuid4())}, "messageId": "1"}


class RecordingIndexer(Indexer):
    def __init__(self, fail: bool = False) -> None:
        self.refs: list[MessageRef] = []
        self.fail = fail

    async def index(self, refs: list[MessageRef]) -> int:
        if self.fail:
            raise RuntimeError("database down")
        self.refs.extend(refs)
        return len(refs)


def test_pull_indexes_and_acknowledges():
    mid, uid = uuid.uuid4(), uuid.uuid4()
    fake = FakePubSub(
        [
            _message("message.created", {"message": {"id": str(mid)}, "user_id": str(uid)}),
            _message("agent.created", {"agent": {}}),
            _message("message.created", "%%% not base64"),
        ]
    )
    indexer = RecordingIndexer()

    async def run() -> int:
        puller = PubSubPuller(SUBSCRIPTION, indexer, emulator_host=fake.host)
        try:
            return await puller.pull_once()
        finally:
            await puller.stop()

    assert asyncio.run(run()) == 3
    assert indexer.refs == [MessageRef(mid, uid)]
    assert sorted(fake.acked) == ["ack-0", "ack-1", "ack-2"]  # including what will never be indexable
    assert fake.paths[0] == f"/v1/{SUBSCRIPTION}:pull"
    fake.server.shutdown()


def test_nothing_is_acknowledged_when_indexing_fails():
    fake = FakePubSub(
        [_message("message.created", {"message": {"id": str(uuid.uuid4())}, "user_id": str(uuid.uuid4())})]
    )

    async def run() -> None:
        puller = PubSubPuller(SUBSCRIPTION, RecordingIndexer(fail=True), emulator_host=fake.host)
        try:
            await puller.pull_once()
        finally:
            await puller.stop()

    try:
        asyncio.run(run())
        raise AssertionError("expected the failure to propagate")
    except RuntimeError:
        pass
    assert fake.acked == [] and list(fake.pending) == ["ack-0"]  # Pub/Sub will redeliver it
    fake.server.shutdown()
