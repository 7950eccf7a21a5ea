"""Retry the first connection to a dependency at instance start, with exponential backoff, within a budget.

On Cloud Run with Direct VPC egress, connections to private addresses (Cloud SQL, Memorystore) can fail for "a
minute or more" after an instance starts (https://cloud.google.com/run/docs/configuring/vpc-direct-vpc#limitations).
Giving up on the first refusal crash-loops revisions and the migrations job; retrying for longer than the
startup probe allows only delays the same failure. The budget (STARTUP_CONNECT_SECONDS) is set by the stack
inside the startup probe's (components/compute/run.py). A dozen lines of loop, so no retry library.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("app.startup")

T = TypeVar("T")


async def retry_connect(
    connect: Callable[[], Awaitable[T]],
    *,
    what: str,
    budget: float,
    retry_on: tuple[type[BaseException], ...],
    first_delay: float = 0.5,
    max_delay: float = 10.0,
) -> T:
    """``await connect()`` until it succeeds; retry ``retry_on`` errors while ``budget`` seconds last, then raise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    delay = first_delay
    attempt = 1
    while True:
        try:
            return await connect()
        except retry_on as exc:
            left = deadline - loop.time()
            if left <= 0:
                log.error("%s unreachable after %d attempts in %.0fs: %s", what, attempt, budget, type(exc).__name__)
                raise
            wait = min(delay, left)
            log.warning("%s not reachable yet (%s); retry %d in %.1fs", what, type(exc).__name__, attempt, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, max_delay)
            attempt += 1
