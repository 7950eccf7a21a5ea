"""Fixed-window counts held in one process: the rate limiter's fallback, and the functions' per-client rate.

Standard library only, so it ships inside each function's source (stacks/serving.py FUNCTION_SHARED_FILES).
Thread-safe: a function instance serves concurrent requests from several threads (functions-framework), and a
service's event loop calls it without awaiting in between, so counting and reading the count is one step.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

from app.common.clientip import forwarded_client

# Past this many live keys, expired windows are dropped: memory stays bounded whoever sends requests.
PRUNE_ABOVE = 50_000


@dataclass(frozen=True)
class Usage:
    """The window's count including the attempt just counted, and seconds until the window resets."""

    count: int
    retry_after: int

    def exceeded(self, limit: int) -> bool:
        return self.count > limit


class LocalWindows:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> Usage:
        """Count one event against `key` in its current window of `window` seconds."""
        with self._lock:
            now = time.monotonic()
            count, reset_at = self._counts.get(key, (0, now + window))
            if reset_at <= now:
                count, reset_at = 0, now + window
            self._counts[key] = (count + 1, reset_at)
            if len(self._counts) > PRUNE_ABOVE:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        # Rounded first: (now + window) - now can come out a hair above window and ceil to window + 1.
        return Usage(count + 1, max(math.ceil(round(reset_at - now, 3)), 1))

    def refund(self, key: str) -> None:
        """Take back one counted event."""
        with self._lock:
            count, reset_at = self._counts.get(key, (0, 0.0))
            if count > 0:
                self._counts[key] = (count - 1, reset_at)

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class ClientRate:
    """At most `per_minute` requests per client IP in this process: the functions' per-client rate.

    The client IP is the one the load balancer appended (`forwarded_client`, TRUSTED_PROXY_HOPS), never an
    X-Forwarded-For entry the client wrote. In-process because the functions have no Redis (they stay stateless
    and hold no cache secret); across instances the bound is per_minute x max instances, and Cloud Armor's per-IP
    rate limit at the load balancer is the cluster-wide one.
    """

    WINDOW = 60

    def __init__(self, per_minute: int, trusted_hops: int) -> None:
        self.per_minute = per_minute
        self.trusted_hops = trusted_hops
        self._windows = LocalWindows()

    @classmethod
    def from_env(cls, variable: str, default: int) -> ClientRate:
        """The limit from `variable` (else `default`), the hop count from TRUSTED_PROXY_HOPS (else 0: the peer)."""
        return cls(_positive(variable, default), _positive("TRUSTED_PROXY_HOPS", 0, minimum=0))

    def spent(self, peer: str | None, forwarded_for: str | None) -> Usage | None:
        """Count one request of the client; its usage if that went past the limit, else None."""
        usage = self._windows.hit(forwarded_client(peer, forwarded_for, self.trusted_hops), self.WINDOW)
        return usage if usage.exceeded(self.per_minute) else None


def _positive(variable: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(variable)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < minimum:
        raise ValueError(f"{variable} must be an integer >= {minimum} (got {raw!r})")
    return int(raw)
