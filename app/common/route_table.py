"""A FastAPI app's routes with their full paths, including those of the routers it includes.

FastAPI 0.165 (the version the images' locks pin) no longer copies an included router's routes onto
``app.routes``: it keeps one ``_IncludedRouter`` entry per ``include_router`` call, which has no ``path`` or
``methods`` of its own. Code that walked ``app.routes`` for every route saw only FastAPI's own documentation
routes, so a 405 named no allowed methods. ``fastapi.routing.iter_route_contexts`` (what FastAPI's own OpenAPI
generation walks) yields every route with its full path, methods, endpoint and ``matches``; before that version the
routes were on ``app.routes`` themselves.
"""

from __future__ import annotations

from typing import Any

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before lazy inclusion: app.routes already holds every route
    iter_route_contexts = None


def route_table(app: Any) -> list[Any]:
    """Every route ``app`` serves, each with ``path``, ``methods`` (None for a WebSocket), ``endpoint`` and
    ``matches(scope)``."""
    routes = app.router.routes
    return list(routes) if iter_route_contexts is None else list(iter_route_contexts(routes))
