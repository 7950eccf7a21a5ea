"""The caller's IP, trusting only as many X-Forwarded-For hops as the deployment says proxies add."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_ip(conn: HTTPConnection, trusted_hops: int) -> str:
    peer = conn.client.host if conn.client else "unknown"
    if trusted_hops <= 0:
        return peer
    # Each trusted proxy appends the address it saw; entries left of those were written by the client itself.
    hops = [h.strip() for h in conn.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return hops[-trusted_hops] if len(hops) >= trusted_hops else peer
