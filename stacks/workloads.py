"""The workload registry of a stack: the bundled workloads (gridlib/workloads.py) and the stack file's own.

A workload is a Cloud Run service, a Cloud Run job (with or without a Cloud Scheduler trigger) or a Cloud Function
(gen2). Names, service accounts, IAM, secret access, routing (stacks/routes.py), the env contract, rollouts and
the plan's jobs and schedules read the registry instead of restating ``auth``/``api``/``ai``. A stack file
resizes the bundled ones, switches one off or adds its own under ``grid:services``, ``grid:jobs`` and
``grid:functions`` (stacks/config.py turns those maps into ``Workload``\\ s: ``StackConfig.workloads``).
Kept free of Pulumi and of the config models so that the local runner and the docs can import it cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gridlib.workloads import BUNDLED, BUNDLED_BY_NAME, KINDS, READS, Kind, Read, Workload, bundled

__all__ = ["BUNDLED", "BUNDLED_BY_NAME", "KINDS", "READS", "Kind", "Read", "Workload", "bundled"]

# The stack-file key of each kind: grid:services, grid:jobs, grid:functions.
CONFIG_KEY: dict[Kind, str] = {"service": "services", "job": "jobs", "function": "functions"}

# Identities of the platform itself, not of a workload: "gateway" is the identity API Gateway/Apigee call
# services with; "invoker" signs the OIDC tokens of Pub/Sub push, Cloud Scheduler and Cloud Tasks; "backup" runs
# the scheduled database exports; "cost-cap" stops the services when a dev budget is spent; "fn-build" builds
# the functions' images.
PLATFORM_ACCOUNTS = ("gateway", "invoker", "backup", "cost-cap", "fn-build")


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


def reading(workloads: Sequence[Workload], what: Read) -> tuple[str, ...]:
    """Names of the workloads that read ``what``."""
    return tuple(w.name for w in workloads if what in w.reads)


def secret_readers(workloads: Sequence[Workload], key: str) -> tuple[str, ...]:
    return tuple(w.name for w in workloads if key in w.secrets)


def secret_env_name(key: str) -> str:
    """The variable a config secret arrives in: completionApiKey -> COMPLETION_API_KEY."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in key)


def event_consumers(workloads: Sequence[Workload]) -> tuple[tuple[Workload, str, str], ...]:
    """(consumer, event type, path) for every type a Cloud Run service consumes that a workload of ``workloads``
    publishes: each gets its own filtered push subscription (to the service's deterministic URL plus ``path``), and
    none exists while nothing publishes its type."""
    published = {event for w in workloads for event in w.publishes}
    return tuple(
        (w, event, path) for w in workloads for event, path in w.consumes if event in published and w.kind == "service"
    )
