"""Physical resource names derived from the stack's name prefix, in one place so they can be checked up front."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

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
        yield "compute", self("vpc"), True
        yield "compute", self("subnet"), True
        if self.config.database.cloud_sql:
            yield "sql_instance", self("db"), True
        if self.config.database.cloud_sql and self.config.database.replica_region:
            yield "sql_instance", self("db-replica"), True
        if self.config.cache.memorystore:
            yield "redis_instance", self("redis"), True
        if self.config.network.egress == "connector":
            yield "vpc_connector", self("cx"), True
        for workload in self.config.workloads:
            if workload.kind == "service":
                yield "cloud_run_service", self(workload.name), False
        yield "artifact_repository", self.repository, False
        yield "artifact_repository", self.function_repository, False
        yield "secret_id", self.secret("database-url"), False
