"""Database connection budgets (issue 16 item 12): pools sized from the plan fit max_connections in every stack."""

from __future__ import annotations

import pytest

from gridlib.gcp_limits import default_max_connections
from stacks.capacity import DbClient, plan_pools, pool_sizes
from stacks.config import ConfigError, load_stack_config
from tests.conftest import DEPLOYED_STACKS, STACKS, deep_update, stack_values

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"


def _config(stack: str, overrides: dict | None = None):
    values = deep_update(stack_values(stack), overrides or {})
    return load_stack_config(values, stack=stack, source=f"Pulumi.{stack}.yaml", secret_keys=frozenset(values))


@pytest.mark.parametrize(("memory_gb", "limit"), [(0.614, 25), (1.7, 50), (3.75, 100), (7.5, 400), (16, 500)])
def test_default_max_connections_follow_the_tier_memory(memory_gb: float, limit: int) -> None:
    assert default_max_connections(memory_gb) == limit


def test_pools_share_what_is_left_and_respect_caps() -> None:
    clients = [DbClient("job", 1, 1, fixed=True), DbClient("fn", 4, 1), DbClient("a", 2, 10), DbClient("b", 3, 10)]
    sizes = pool_sizes(40, clients, reserved=5)
    assert sizes == {"job": 1, "fn": 1, "a": 6, "b": 6}
    assert sum(sizes[c.name] * c.instances for c in clients) + 5 <= 40


def test_impossible_budget_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match=r"max_connections 10 cannot give each instance one connection"):
        pool_sizes(10, [DbClient("a", 20, 10)], reserved=5)


def _planned_pools(plan) -> dict[str, tuple[int, int]]:
    """workload -> (DB_POOL_MAX_SIZE, max instances) as the plan deploys them."""
    found = {}
    for service in plan.of_type(RUN_SERVICE):
        template = service.inputs["template"]
        [container] = template["containers"]
        env = {e["name"]: e.get("value") for e in container["envs"]}
        if "DATABASE_URL" in env:
            found[service.inputs["labels"]["grid-service"]] = (
                int(env["DB_POOL_MAX_SIZE"]),
                template["scaling"]["maxInstanceCount"],
            )
    for function in plan.of_type(FUNCTION):
        config = function.inputs["serviceConfig"]
        names = {e["key"] for e in config.get("secretEnvironmentVariables", [])}
        if "DATABASE_URL" in names:
            found[function.inputs["labels"]["grid-service"]] = (
                int(config["environmentVariables"]["DB_POOL_MAX_SIZE"]),
                config["maxInstanceCount"],
            )
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_fits_its_connection_limit(synth, stack: str) -> None:
    plan = synth(stack)
    config = _config(stack)
    if config.database.external:  # the provider's limit, which the stack file states
        assert not plan.of_type(SQL)
        limit = config.database.max_connections
    else:
        primary = next(s for s in plan.of_type(SQL) if not s.inputs.get("masterInstanceName"))
        flags = {f["name"]: f["value"] for f in primary.inputs["settings"].get("databaseFlags", [])}
        limit = int(flags.get("max_connections", default_max_connections(config.database.sql_tier.memory_gb)))
    pools = _planned_pools(plan)
    assert set(pools) == {"auth", "api", "ai", "ml-analytics"}
    # + one connection per job (migrations, and the scraper the deployed stack files declare) + the reserve.
    jobs = {w.name for w in config.workloads_of("job") if "database" in w.reads}
    assert jobs == ({"migrations", "scraper"} if stack in DEPLOYED_STACKS else {"migrations"})
    assert sum(size * instances for size, instances in pools.values()) + len(jobs) + 5 <= limit
    assert {name: size for name, (size, _) in pools.items()} == {
        name: size for name, size in plan_pools(config).items() if name not in jobs
    }


def test_a_stack_that_cannot_fit_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as error:
        _config("dev", {"grid:services": {"api": {"maxInstances": 30}}})
    [line] = [p for p in error.value.lines if "max_connections" in p]
    assert "max_connections 25 cannot give each instance one connection" in line
    assert "lower maxInstances" in line and "database.maxConnections" in line


def test_the_max_connections_flag_raises_the_limit() -> None:
    config = _config("dev", {"grid:services": {"api": {"maxInstances": 30}}, "grid:database": {"maxConnections": 100}})
    assert plan_pools(config)["api"] >= 1
