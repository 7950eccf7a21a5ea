"""The public routing (docs/design.md §7), derived from the workload registry (stacks/workloads.py): the load
balancer's URL map, API Gateway's OpenAPI paths and plain `grid local`'s in-process router are all built from
``routes_of``. Kept free of Pulumi imports so the local runner can read it without loading the SDK."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stacks.workloads import BUNDLED, Workload


@dataclass(frozen=True)
class Route:
    workload: str
    """The workload's own name (stacks/workloads.py)."""
    prefix: str | None
    """``/auth`` routes ``/auth`` and ``/auth/*``; None marks the default (api) route."""
    public_paths: tuple[str, ...] | None = None
    """When set, only these exact paths are public: the rest of the prefix is for the platform's own callers
    (ml-analytics' ``/events`` and ``/report`` take Pub/Sub push and Cloud Scheduler only)."""
    cached: bool = False
    """Serves responses marked public (``Cache-Control: public``, app/common/caching.py) that Cloud CDN may cache:
    the load balancer enables the CDN on this route's backend alone when the stack asks for a CDN."""
    user_token: bool = True
    """A gateway that checks tokens itself (API Gateway) demands the user's access token on this route; auth's
    is open, since it issues the tokens (register, login, refresh) and checks its own ``/me``."""

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


# Every Cloud Run service's liveness and readiness probes (app/common/health.py), under its prefix: open at the
# gateway (uptime checks carry no user token nor API key).
PROBES = ("/health", "/ready")


def routes_of(workloads: Iterable[Workload]) -> tuple[Route, ...]:
    """The gateway routes of ``workloads``: each prefix route, then the default route (which must come last)."""
    workloads = list(workloads)
    prefixed = tuple(
        Route(w.name, w.route, w.public_paths, cached=w.cached, user_token=w.user_token)
        for w in workloads
        if w.route is not None
    )
    default = (Route(w.name, None, cached=w.cached, user_token=w.user_token) for w in workloads if w.default_route)
    return prefixed + tuple(default)


# The bundled stack's routes (plain `grid local`, which runs the bundled apps without a stack file).
ROUTES = routes_of(BUNDLED)


def route_of(path: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    """The route a public request for ``path`` takes; None when a prefix owns the path but does not expose it."""
    for route in routes:
        if route.prefix is not None and (path == route.prefix or path.startswith(f"{route.prefix}/")):
            return route if route.matches(path) else None
    return next(r for r in routes if r.prefix is None)
