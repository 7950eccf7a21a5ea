"""BackgroundLoop.stop ends a loop even when one cancellation is lost on the way (app/common/background.py)."""

from __future__ import annotations

import asyncio

from app.common.background import BackgroundLoop


class _LosesOneCancellation(BackgroundLoop):
    """A retry loop around a read whose cancellation comes back as TimeoutError once, as asyncio.timeout on 3.11
    can turn a cancellation racing its deadline into one."""

    def __init__(self) -> None:
        self.lost = 0

    async def _run(self) -> None:
        while True:
            try:
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    if self.lost:
                        raise
                    self.lost += 1
                    raise TimeoutError from None
            except TimeoutError:
                continue  # "unavailable, retrying"


def test_stop_ends_a_loop_that_lost_the_first_cancellation() -> None:
    async def run() -> int:
        loop = _LosesOneCancellation()
        loop.start()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(loop.stop(), timeout=10)  # before: waited for ever
        return loop.lost

    assert asyncio.run(run()) == 1
