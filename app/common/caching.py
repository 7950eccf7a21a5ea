"""The services' caching policy, stated once: every HTTP response leaves with an explicit Cache-Control.

- A route is user-private unless it declares otherwise (`@cache_policy(...)`): `private, no-store`, so neither
  Cloud CDN nor a browser or proxy keeps a user's data.
- A public route declares how long a shared cache may keep it (auth's JWKS: `public, max-age=JWKS_MAX_AGE`).
- Operational answers (`/health`, `/ready`) are `no-store`: a cached "ok" would hide an outage from an uptime check.
- Every error (status >= 400) is `no-store`, whatever the route declares: errors are transient (429, 503) or
  about one caller (401, 404 of someone else's id), and a cached one would be served to others. With Cloud CDN's
  USE_ORIGIN_HEADERS cache mode, negative caching only applies to responses without Cache-Control
  (https://cloud.google.com/cdn/docs/using-negative-caching), so this header is what keeps errors out of the CDN;
  the load balancer's CDN policy (components/gateway.py) turns negative caching off to agree.

The header is set by `RequestContextMiddleware` on the way out, after the route ran (the endpoint is in the
scope by then), so no route can forget it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

PRIVATE = "private, no-store"
NO_STORE = "no-store"
# How long a verifier (app/common/security.py JwksKeys) keeps auth's public keys before refetching them, and how
# long a shared cache may keep the JWKS: after a key rotation the old key is gone from every cache within this
# time (the CDN: docs/runbooks/rotate-secrets.md). A token with a new key id is fetched past the caches at once.
JWKS_MAX_AGE = 300
PUBLIC_JWKS = f"public, max-age={JWKS_MAX_AGE}"

_ATTRIBUTE = "__grid_cache_control__"
F = TypeVar("F", bound=Callable[..., Any])


def cache_policy(value: str) -> Callable[[F], F]:
    """Declare the Cache-Control of a route's successful responses (the default is PRIVATE)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, value)
        return endpoint

    return mark


def declared(endpoint: Any) -> str:
    """The Cache-Control a route's successful responses carry."""
    return getattr(endpoint, _ATTRIBUTE, PRIVATE)


def for_response(scope: dict[str, Any], status: int) -> str:
    """The Cache-Control of a response with `status` to the request in `scope` (after routing)."""
    if status >= 400:
        return NO_STORE
    endpoint = scope.get("endpoint")
    return declared(endpoint) if endpoint is not None else PRIVATE


def with_cache_control(headers: list[tuple[bytes, bytes]], value: str) -> list[tuple[bytes, bytes]]:
    """`headers` with exactly one Cache-Control, `value` (the policy replaces whatever a handler set)."""
    return [(k, v) for k, v in headers if k.lower() != b"cache-control"] + [(b"cache-control", value.encode())]
