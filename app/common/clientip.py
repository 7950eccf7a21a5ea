"""The caller's IP, trusting only as many X-Forwarded-For hops as the deployment says proxies add.

Google's external Application Load Balancer appends `<client-ip>,<load-balancer-ip>` to whatever
X-Forwarded-For the client sent (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header), so
behind it TRUSTED_PROXY_HOPS is 2 (stacks/serving.py) and the client's IP is the second entry from the right;
anything further left is the client's own writing and is never used, or a client could pick its rate-limit key.

Standard library only (the Starlette type is for checking): the functions use `forwarded_client` too, shipped in
their source (stacks/serving.py FUNCTION_SHARED_FILES).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


def forwarded_client(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The client's IP from the connection's peer and the X-Forwarded-For header, given the trusted hop count."""
    peer = peer or "unknown"
    if trusted_hops <= 0:
        return peer
    # Each trusted proxy appends the address it saw; entries left of those were written by the client itself.
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    return hops[-trusted_hops] if len(hops) >= trusted_hops else peer


def client_ip(conn: HTTPConnection, trusted_hops: int) -> str:
    return forwarded_client(
        conn.client.host if conn.client else None, conn.headers.get("x-forwarded-for"), trusted_hops
    )
