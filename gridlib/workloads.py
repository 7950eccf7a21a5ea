"""The workloads Grid bundles (this package's services, functions and migrations job), declared once.

Each entry says what the workload is and what it touches: its source, its route on the gateway, what it reads
(database, cache, events, config secrets), who else may invoke it, its default size, its settings class. The
stack (stacks/workloads.py, which adds the stack file's own workloads), ``grid local``, the env docs
(app/envdoc.py) and the smoke test read it instead of restating ``auth``/``api``/``ai``. It lives in gridlib/, at
the bottom of the import graph, and imports nothing from the project: settings classes are named, not imported.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["service", "job", "function"]
Read = Literal["database", "cache", "events"]
"""``database``: DATABASE_URL (and a pool size); ``cache``: REDIS_URL when the stack has Redis; ``events``: may
publish to the stack's events topic (PUBSUB_TOPIC)."""
READS: tuple[Read, ...] = ("database", "cache", "events")
KINDS: tuple[Kind, ...] = ("service", "job", "function")


@dataclass(frozen=True)
class Workload:
    name: str
    """Its own name; resources are ``<namePrefix>-<name>``."""
    kind: Kind
    source: str
    """Directory holding its Dockerfile (services, jobs) or main.py (functions), relative to the project root."""
    route: str | None = None
    """Gateway prefix: ``/billing`` serves ``/billing`` and ``/billing/*``. None: not on the gateway."""
    default_route: bool = False
    """Serves every path no other route claims (the api)."""
    public_paths: tuple[str, ...] | None = None
    """When set, only these exact paths under ``route`` are public (the rest is for the platform's callers)."""
    health: str | None = None
    """Public health path (uptime checks, smoke test)."""
    reads: frozenset[Read] = frozenset()
    secrets: tuple[str, ...] = ()
    """Config secrets (stacks/config.py SECRET_KEYS) it reads from Secret Manager."""
    invokers: tuple[str, ...] = ()
    """Platform identities (PLATFORM_ACCOUNTS) that may invoke it besides the gateway."""
    schedule: str | None = None
    """Jobs: the Cloud Scheduler cron that runs it (UTC unless the stack's messaging.timeZone says otherwise)."""
    command: tuple[str, ...] = ()
    """Jobs: the container command, when not the image's own."""
    image: str | None = None
    """Services/jobs: run another workload's image (the migrations job runs the api image)."""
    entry_point: str | None = None
    """Functions: the functions-framework target."""
    env: tuple[tuple[str, str], ...] = ()
    """Plain environment variables from the stack file (never secrets)."""
    required: str | None = None
    """Why the platform cannot run without it (it cannot be switched off); None: it can."""
    needs: tuple[str, ...] = ()
    """Workloads it cannot run without: switching one of those off while this one is on is an error."""
    bundled: bool = False
    """Ships with Grid (app/); its environment contract is its settings class."""
    defaults: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Bundled defaults of its size and scaling (camelCase, as a stack file spells them)."""
    cached: bool = False
    """Serves responses marked public (``Cache-Control: public``, app/common/caching.py) that Cloud CDN may cache:
    the load balancer enables the CDN on its route's backend alone when the stack asks for a CDN."""
    user_token: bool = True
    """A gateway that checks tokens itself (API Gateway) demands the user's access token on its route; auth's is
    open, since it issues the tokens (register, login, refresh) and checks its own ``/me``."""
    streams: bool = False
    """Holds WebSocket streams open: they last as long as Cloud Run lets a request last, so its default request
    timeout is Cloud Run's maximum (stacks/config.py)."""
    settings_class: str | None = None
    """A bundled service's settings class (``module:Class``): its side of the env contract, and the docs."""
    app: str | None = None
    """A bundled service's ASGI app factory (``module:function``, called with its settings): what its image serves
    (its Dockerfile's CMD; tests/grid/test_local_apps.py keeps them equal) and what plain ``grid local`` runs."""
    publishes: tuple[str, ...] = ()
    """Event types it publishes to the events topic (needs ``events`` in ``reads``): the scraper's ``item.scraped``."""
    consumes: tuple[tuple[str, str], ...] = ()
    """(event type, path) pairs: while a workload of the stack publishes that type, the stack gives this one a push
    subscription filtered to it, delivering to ``path`` with the invoker's OIDC token (stacks/serving.py)."""
    exports_metrics: bool = False
    """Its image carries Google's metrics exporter (app/common/metrics.py; a test keeps this in step with the image's
    requirements.txt): the stack turns METRICS_EXPORT on for it and lets its account write custom metrics. A stack
    file's own workloads do not get either."""

    @property
    def image_name(self) -> str:
        return self.image or self.name


def load_reference(reference: str) -> Any:
    """The object a ``module:name`` reference names (a workload's ``settings_class`` or ``app``, a project's
    settings loader), imported on demand."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


BUNDLED: tuple[Workload, ...] = (
    # auth first: api and ai verify tokens against its published keys.
    Workload(
        "auth",
        "service",
        "app/auth",
        route="/auth",
        health="/auth/health",
        reads=frozenset({"database", "cache"}),
        needs=("migrations",),
        bundled=True,
        settings_class="app.auth.settings:AuthSettings",
        app="app.auth.main:create_app",
        exports_metrics=True,
        cached=True,  # the JWKS
        user_token=False,
    ),
    Workload(
        "api",
        "service",
        "app/api",
        default_route=True,
        health="/health",
        reads=frozenset({"database", "cache", "events"}),
        needs=("auth", "migrations"),
        required="it serves the gateway's default route and publishes the platform's events",
        publishes=("message.created",),
        bundled=True,
        streams=True,
        settings_class="app.api.settings:ApiSettings",
        app="app.api.main:create_app",
        exports_metrics=True,
    ),
    Workload(
        "ai",
        "service",
        "app/ai",
        route="/ai",
        health="/ai/health",
        reads=frozenset({"database", "cache"}),
        secrets=("completionApiKey",),
        invokers=("invoker",),  # Cloud Tasks deliver AI work (and Pub/Sub pushes) with this identity
        # Scraped items become searchable (app/ai/items.py): pushed to ai only while a workload publishes them.
        consumes=(("item.scraped", "/ai/events/items"),),
        needs=("auth", "migrations"),
        bundled=True,
        defaults={"memory": "2Gi"},
        settings_class="app.ai.settings:AiSettings",
        app="app.ai.main:create_app",
        exports_metrics=True,
    ),
    Workload(
        "korean-nlp",
        "function",
        "app/functions/korean_nlp",
        route="/fn/korean-nlp",
        invokers=("invoker",),
        entry_point="korean_nlp",
        bundled=True,
        defaults={"memory": "512Mi"},
    ),
    Workload(
        "ml-analytics",
        "function",
        "app/functions/ml_analytics",
        route="/fn/ml-analytics",
        public_paths=("/fn/ml-analytics/anomalies",),
        reads=frozenset({"database"}),
        invokers=("invoker",),  # Pub/Sub pushes events, Cloud Scheduler calls /report
        entry_point="ml_analytics",
        needs=("migrations",),
        required="it consumes the events topic (its push subscription) and runs the daily usage report",
        bundled=True,
    ),
    # Migrations run once per release with the api image, before a new revision takes traffic.
    Workload(
        "migrations",
        "job",
        "app/api",
        reads=frozenset({"database"}),
        command=("python", "-m", "app.common.migrations"),
        image="api",
        bundled=True,
    ),
)
BUNDLED_BY_NAME = {w.name: w for w in BUNDLED}


def bundled(kind: Kind) -> tuple[Workload, ...]:
    return tuple(w for w in BUNDLED if w.kind == kind)
