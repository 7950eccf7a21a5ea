"""The workload registry: every workload the stack runs, declared once.

A workload is a Cloud Run service, a Cloud Run job (with or without a Cloud Scheduler trigger) or a Cloud Function
(gen2). Its entry here says what it is and what it touches: where its source is, where the gateway routes to it,
what it reads (database, cache, events, config secrets) and who else may invoke it. Names, service accounts, IAM,
secret access, routing (stacks/routes.py), the env contract, rollouts, ``grid local``, the docs table and the
smoke test read this registry instead of restating ``auth``/``api``/``ai``.

``BUNDLED`` are the workloads Grid ships (app/); a stack file resizes them, switches one off or adds its own under
``grid:services``, ``grid:jobs`` and ``grid:functions`` (stacks/config.py turns those maps into ``Workload``\\ s).
Kept free of Pulumi and of the config models so that the local runner and the docs can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["service", "job", "function"]
Read = Literal["database", "cache", "events"]
"""``database``: DATABASE_URL (and a pool size); ``cache``: REDIS_URL when the stack has Redis; ``events``: may
publish to the stack's events topic (PUBSUB_TOPIC)."""
READS: tuple[Read, ...] = ("database", "cache", "events")
KINDS: tuple[Kind, ...] = ("service", "job", "function")
# The stack-file key of each kind: grid:services, grid:jobs, grid:functions.
CONFIG_KEY: dict[Kind, str] = {"service": "services", "job": "jobs", "function": "functions"}

# Identities of the platform itself, not of a workload: "gateway" is the identity API Gateway/Apigee call
# services with; "invoker" signs the OIDC tokens of Pub/Sub push, Cloud Scheduler and Cloud Tasks; "backup" runs
# the scheduled database exports; "cost-cap" stops the services when a dev budget is spent; "fn-build" builds
# the functions' images.
PLATFORM_ACCOUNTS = ("gateway", "invoker", "backup", "cost-cap", "fn-build")


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
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Bundled defaults of its size and scaling (camelCase, as a stack file spells them)."""

    @property
    def image_name(self) -> str:
        return self.image or self.name


# Grid's own tree: the bundled apps' sources, and ready-made workloads a stack file may name (jobs/scraper).
GRID_ROOT = Path(__file__).resolve().parent.parent


def source_path(workload: Workload, project: Path) -> Path | None:
    """The directory of ``workload``'s source. A bundled workload's is in Grid's tree; a stack file's own is
    looked up in the project directory first, then in Grid's tree (which ships ready-made jobs such as
    jobs/scraper, so a project may name them without copying them). None: neither has it, with the file the
    kind needs (a Dockerfile, or a function's main.py)."""
    marker = "main.py" if workload.kind == "function" else "Dockerfile"
    roots = (GRID_ROOT,) if workload.bundled else (project, GRID_ROOT)
    return next((root / workload.source for root in roots if (root / workload.source / marker).is_file()), None)


# The api holds WebSocket streams open: they last as long as Cloud Run lets a request last (3600 s).
_API_TIMEOUT = 3600

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
        bundled=True,
        settings={"timeoutSeconds": _API_TIMEOUT},
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
        needs=("auth", "migrations"),
        bundled=True,
        settings={"memory": "2Gi"},
    ),
    Workload(
        "korean-nlp",
        "function",
        "app/functions/korean_nlp",
        route="/fn/korean-nlp",
        invokers=("invoker",),
        entry_point="korean_nlp",
        bundled=True,
        settings={"memory": "512Mi"},
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


def reading(workloads: tuple[Workload, ...] | list[Workload], what: Read) -> tuple[str, ...]:
    """Names of the workloads that read ``what``."""
    return tuple(w.name for w in workloads if what in w.reads)


def secret_readers(workloads: tuple[Workload, ...] | list[Workload], key: str) -> tuple[str, ...]:
    return tuple(w.name for w in workloads if key in w.secrets)


def secret_env_name(key: str) -> str:
    """The variable a config secret arrives in: completionApiKey -> COMPLETION_API_KEY."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in key)
