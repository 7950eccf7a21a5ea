"""The caller's IP, trusting only as many X-Forwarded-For hops as the deployment says proxies add.

Google's external Application Load Balancer appends `<client-ip>,<load-balancer-ip>` to whatever
X-Forwarded-For the client sent (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header), so
behind it TRUSTED_PROXY_HOPS is 2 (stacks/serving.py) and the client's IP is the second entry from the right;
anything further left is the client's own writing and is never used, or a client could pick its rate-limit key.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_ip(conn: HTTPConnection, trusted_hops: int) -> str:
    peer = conn.client.host if conn.client else "unknown"
    if trusted_hops <= 0:
        return peer
    # Each trusted proxy appends the address it saw; entries left of those were written by the client itself.
    hops = [h.strip() for h in conn.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return hops[-trusted_hops] if len(hops) >= trusted_hops else peer
