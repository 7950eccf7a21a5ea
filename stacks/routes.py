"""The public routing (docs/design.md §7), stated once: the load balancer's URL map, API Gateway's OpenAPI paths and
plain `grid local`'s in-process router are all built from ``ROUTES``. Kept free of Pulumi imports so the local
runner can read it without loading the SDK."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    workload: str
    """The workload's own name: auth, api, ai, korean-nlp, ml-analytics."""
    prefix: str | None
    """``/auth`` routes ``/auth`` and ``/auth/*``; None marks the default (api) route."""
    public_paths: tuple[str, ...] | None = None
    """When set, only these exact paths are public: the rest of the prefix is for the platform's own callers
    (ml-analytics' ``/events`` and ``/report`` take Pub/Sub push and Cloud Scheduler only)."""
    cached: bool = False
    """Serves responses marked public (``Cache-Control: public``, app/common/caching.py) that Cloud CDN may cache:
    the load balancer enables the CDN on this route's backend alone when the stack asks for a CDN."""

    def paths(self) -> list[str]:
        """The URL-map path patterns of this route (a prefix's own path and everything under it)."""
        assert self.prefix is not None
        return list(self.public_paths) if self.public_paths else [self.prefix, f"{self.prefix}/*"]

    def matches(self, path: str) -> bool:
        if self.prefix is None:
            return True
        if self.public_paths:
            return path in self.public_paths
        return path == self.prefix or path.startswith(f"{self.prefix}/")


ROUTES = (
    Route("auth", "/auth", cached=True),  # the JWKS
    Route("ai", "/ai"),
    Route("korean-nlp", "/fn/korean-nlp"),
    Route("ml-analytics", "/fn/ml-analytics", public_paths=("/fn/ml-analytics/anomalies",)),
    Route("api", None),
)


def route_of(path: str) -> Route | None:
    """The route a public request for ``path`` takes; None when a prefix owns the path but does not expose it."""
    for route in ROUTES:
        if route.prefix is not None and (path == route.prefix or path.startswith(f"{route.prefix}/")):
            return route if route.matches(path) else None
    return next(r for r in ROUTES if r.prefix is None)
