"""Physical resource names derived from the stack's name prefix, in one place so they can be checked up front."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from components._base import child_name_of, fitted_name_of
from components.cache import Cache
from components.database import Database
from components.networking import Networking

if TYPE_CHECKING:
    from stacks.config import StackConfig


class Names:
    """Names of everything the stack creates. ``checked()`` lists them with their Google Cloud name kind."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.prefix = config.name_prefix

    def __call__(self, suffix: str) -> str:
        """Logical (and base physical) name of a component or resource: ``<prefix>-<suffix>``."""
        return f"{self.prefix}-{suffix}"

    # The components whose children's physical names Google limits: their logical names, used by the program.
    @property
    def network(self) -> str:
        return self("net")

    @property
    def database(self) -> str:
        return self("db")

    @property
    def cache(self) -> str:
        return self("cache")

    def service_account(self, workload: str) -> str:
        return self(workload)

    def secret(self, purpose: str) -> str:
        return self(purpose)

    @property
    def repository(self) -> str:
        return self.config.registry.repository_id or self.prefix

    @property
    def function_repository(self) -> str:
        """Where gen2 function builds push their images."""
        return self("functions")

    def checked(self) -> Iterator[tuple[str, str, bool]]:
        """(name kind, name, autonamed by Pulumi) for every name Google Cloud validates."""
        for account in self.config.accounts:
            yield "service_account_id", self.service_account(account), False
        # The names the components really give them (they used to be checked as <prefix>-vpc, -db, -redis, -cx,
        # shorter than the created <prefix>-net-vpc, -db-instance, -cache-instance, -net-cx: a prefix could pass
        # here and then fail at deploy).
        yield "compute", child_name_of(self.network, Networking.VPC), True
        yield "compute", child_name_of(self.network, Networking.SUBNET), True
        if self.config.database.cloud_sql:
            yield "sql_instance", child_name_of(self.database, Database.INSTANCE), True
        if self.config.database.cloud_sql and self.config.database.replica_region:
            yield "sql_instance", child_name_of(self.database, Database.REPLICA), True
        if self.config.cache.memorystore:
            yield "redis_instance", child_name_of(self.cache, Cache.INSTANCE), True
        if self.config.network.egress == "connector":
            fitted = fitted_name_of(self.network, Networking.CONNECTOR, "vpc_connector")
            yield "vpc_connector", fitted or child_name_of(self.network, Networking.CONNECTOR), fitted is None
        for workload in self.config.workloads:
            if workload.kind == "service":
                yield "cloud_run_service", self(workload.name), False
        yield "artifact_repository", self.repository, False
        yield "artifact_repository", self.function_repository, False
        yield "secret_id", self.secret("database-url"), False
