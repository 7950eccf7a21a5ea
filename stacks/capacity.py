"""Database connections: how many each workload may pool, derived from the plan, so the sum fits the server.

Every instance of a workload opens up to its pool's size, so the worst case the database must hold is
sum(pool x max instances) over the workloads that connect, plus what is reserved for others. Postgres refuses
connections past ``max_connections`` ("sorry, too many clients already"): with the app's default pool of 10 that
happened in every shipped stack once services scaled out. The pools are sized here instead, from the tier's limit
(or the ``max_connections`` flag) and each workload's ``maxInstances``; when even one connection per instance does
not fit, the config is refused with one line saying what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridlib import gcp_limits
from gridlib.gcp_limits import APP_DEFAULT_POOL, RESERVED_CONNECTIONS, default_max_connections

if TYPE_CHECKING:
    from stacks.config import StackConfig

# A job runs one task on one connection (the migrations job; a scheduled job of the stack's own). A pool is never
# larger than the app's default (10): more connections than an instance serves requests at once only sit idle.
JOB_CONNECTIONS = 1


@dataclass(frozen=True)
class DbClient:
    """One workload that connects: at most ``instances`` instances, each needing at most ``cap`` connections."""

    name: str
    instances: int
    cap: int
    fixed: bool = False
    """True: the workload always opens exactly ``cap`` (the migrations job), it is not sized."""


def pool_sizes(limit: int, clients: list[DbClient], reserved: int) -> dict[str, int]:
    """Largest per-instance pools with sum(pool x instances) + reserved <= limit, each at most its cap.

    Water-filling: every sized workload gets the same share, except one whose cap is below the share, which
    gets its cap and leaves the rest to the others. Raises ValueError when not even one connection each fits.
    """
    sizes = {c.name: c.cap for c in clients if c.fixed}
    available = limit - reserved - sum(c.cap * c.instances for c in clients if c.fixed)
    open_clients = sorted((c for c in clients if not c.fixed), key=lambda c: c.cap)
    while open_clients:
        share = available // sum(c.instances for c in open_clients)
        if share < 1:
            wanted = reserved + sum(c.cap * c.instances for c in clients if c.fixed)
            wanted += sum(c.instances for c in open_clients)
            raise ValueError(
                f"max_connections {limit} cannot give each instance one connection: at least {wanted} are needed "
                f"({' + '.join(f'{c.name} {c.instances}' for c in open_clients)} instances, {reserved} reserved)"
            )
        capped = [c for c in open_clients if c.cap <= share]
        if not capped:
            sizes.update({c.name: share for c in open_clients})
            break
        for client in capped:
            sizes[client.name] = client.cap
            available -= client.cap * client.instances
        open_clients = [c for c in open_clients if c.cap > share]
    return sizes


def max_connections(config: StackConfig) -> int:
    """The primary's connection limit: the ``maxConnections`` flag, else the tier's default."""
    if config.database.max_connections:
        return config.database.max_connections
    return default_max_connections(gcp_limits.parse_sql_tier(config.database.tier).memory_gb)


def database_clients(config: StackConfig) -> list[DbClient]:
    """The workloads of ``config`` that connect, with their scale-out and what one instance can use at once."""
    clients = []
    # Workloads that connect to the database (and read its URL secret): the registry's database readers.
    for workload in config.workloads:
        if "database" not in workload.reads:
            continue
        if workload.kind == "job":
            clients.append(DbClient(workload.name, 1, JOB_CONNECTIONS, fixed=True))
            continue
        settings = config.settings_of(workload)
        # One connection per concurrent request, plus one for background work (outbox relay, indexer).
        clients.append(DbClient(workload.name, settings.max_instances, min(APP_DEFAULT_POOL, settings.concurrency + 1)))
    return clients


def plan_pools(config: StackConfig) -> Mapping[str, int]:
    """Pool size (DB_POOL_MAX_SIZE) per connecting workload; ValueError with the fix when nothing fits."""
    limit = max_connections(config)
    try:
        return pool_sizes(limit, database_clients(config), RESERVED_CONNECTIONS)
    except ValueError as exc:
        raise ValueError(
            f"grid:database: {exc}: lower maxInstances of the services/functions, set database.maxConnections, "
            "or pick a larger database.tier"
        ) from None
