"""Relays outbox rows to the event publisher: promptly after a commit, and periodically for anything that
failed (publisher down, instance killed after commit).

Two modes (OUTBOX_RELAY_MODE). ``background``: a loop woken after each commit and every interval, for a process
that keeps its CPU between requests (local, or Cloud Run with instance-based billing). ``request``: the request
that committed the event publishes it (and anything left over) before it responds; no loop. On Cloud Run with
request-based billing an instance gets almost no CPU between requests, so a loop there would stall
(https://cloud.google.com/run/docs/tips/general#avoid-background); the stack chooses the mode.

Either way, what is left over is also swept when an instance starts and when it stops. Without that, in request
mode an event whose publish failed (or whose instance was killed after the commit) waited for the next commit,
however long a quiet stack stayed quiet. Cloud Run gives CPU to an instance while it starts and during the 10 s
between SIGTERM and SIGKILL when it stops (https://cloud.google.com/run/docs/container-contract#instance-shutdown),
and it stops idle instances, so the instance that served a quiet stack's last request publishes what that request
could not once it scales in. The stop's sweep is bounded (``shutdown_seconds``) so it ends before SIGKILL; what it
does not finish stays in the table for the next instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.api import repository as repo
from app.api.events import Event, EventPublisher
from app.common.db import Database

log = logging.getLogger("app.outbox")


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        publisher: EventPublisher,
        interval: float,
        batch: int = 100,
        *,
        in_request: bool = False,
        shutdown_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.in_request = in_request
        self.publisher = publisher
        self.interval = interval
        self.batch = batch
        self.shutdown_seconds = shutdown_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sweep: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.in_request:
            # Off the start path: the first request must not wait for it (the loop's first drain does this job
            # in background mode).
            self._sweep = asyncio.create_task(self._drain_logged("at start"))
        else:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for task in (self._task, self._sweep):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._sweep) if t is not None), return_exceptions=True)
        try:
            await asyncio.wait_for(self._drain_logged("at stop"), timeout=self.shutdown_seconds)
        except TimeoutError:
            log.warning("event relay stopped after %gs with events left for the next instance", self.shutdown_seconds)
        await self.publisher.close()

    async def _drain_logged(self, when: str) -> None:
        try:
            if sent := await self.drain():
                log.info("published %d left-over event(s) %s", sent, when)
        except Exception as exc:
            log.warning("event relay failed %s, the events stay for the next try: %s", when, type(exc).__name__)

    def wake(self) -> None:
        self._wake.set()

    async def after_commit(self) -> None:
        """An event was committed: publish now (request mode, before the response) or wake the loop.

        In request mode a failure is logged and the rows stay: the next request that commits an event (on any
        instance) publishes them too.
        """
        if not self.in_request:
            self.wake()
            return
        try:
            await self.drain()
        except Exception as exc:
            log.warning("event relay failed, the next commit retries: %s", type(exc).__name__)

    async def _run(self) -> None:
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            try:
                await self.drain()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("event relay failing, will retry: %s", type(exc).__name__)
                failing = True

    async def drain(self) -> int:
        """Publish every pending event; return how many were sent."""
        sent = 0
        while True:
            async with self.db.transaction() as conn:
                rows = await repo.claim_outbox_batch(conn, self.batch)
                if not rows:
                    return sent
                events = [
                    Event(str(r["event_id"]), r["event_type"], r["created_at"].isoformat(), r["payload"]) for r in rows
                ]
                # Rows stay locked (SKIP LOCKED keeps other instances off them) and are deleted only once
                # published; a failure rolls back and the batch is retried.
                await self.publisher.publish(events)
                await repo.delete_outbox_rows(conn, [r["id"] for r in rows])
                sent += len(rows)
