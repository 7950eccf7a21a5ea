"""One long-running asyncio task per object, started and stopped with the service's lifespan."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """Subclasses implement `_run()` (normally an endless loop); `stop()` cancels it and waits for it to end."""

    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end, cancelling it again every second until it does.

        One cancellation can be lost on its way through a library: a timeout wrapped around a read can turn a
        cancellation that races its deadline into TimeoutError (python/cpython#86296 describes the race for
        wait_for; redis-py runs every read under such a timeout), and a loop that retries on TimeoutError then
        carries on for ever, its service's shutdown waiting on it. tests/app/common/test_streams.py hung so, twice in
        a full suite under load, past its 120 s timeout; which library lost the cancellation there is not proven,
        so stop() does not depend on it."""
        task = self._task
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
