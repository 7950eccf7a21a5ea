"""The outbox relay in request mode (Cloud Run with request-based billing): no loop; the committing request
publishes before it responds, and a failed publish is retried by the next commit. Real Postgres."""

from __future__ import annotations

import asyncio

from app.api import repository as repo
from app.api.events import Event
from app.api.outbox import OutboxRelay
from app.common.db import Database
from app.common.migrations import apply_migrations


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.fail = False

    async def publish(self, events: list[Event]) -> None:
        if self.fail:
            raise ConnectionError("publisher down")
        self.sent.extend(events)

    async def close(self) -> None:
        pass


def test_request_mode_publishes_inside_the_request_and_retries_on_the_next_commit(postgres) -> None:
    async def go() -> tuple[list[str], list[str], bool]:
        await apply_migrations(postgres.url)
        db = Database(postgres.url, min_size=0, max_size=2)
        await db.open()
        publisher = Recorder()
        relay = OutboxRelay(db, publisher, interval=3600, in_request=True)
        relay.start()
        no_loop = relay._task is None
        try:
            publisher.fail = True
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-mode", {"n": 1})
            await relay.after_commit()  # the publisher is down: logged, the row stays
            failed = [e.data["n"] for e in publisher.sent if e.type == "test.outbox-mode"]
            publisher.fail = False
            async with db.transaction() as conn:
                await repo.insert_outbox_event(conn, "test.outbox-mode", {"n": 2})
            await relay.after_commit()  # publishes both, before "responding"
            sent = sorted(e.data["n"] for e in publisher.sent if e.type == "test.outbox-mode")
            return failed, sent, no_loop
        finally:
            await relay.stop()
            await db.close()

    failed, sent, no_loop = asyncio.run(go())
    assert failed == [] and sent == [1, 2] and no_loop
