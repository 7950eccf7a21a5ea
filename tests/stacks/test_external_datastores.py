"""A stack whose Postgres and Redis live outside Google Cloud (Supabase, Upstash): Pulumi.dev-external.yaml."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from grid.stackfile import read_stack_file
from stacks.config import ConfigError, load_stack_config
from tests.conftest import REPO_ROOT, deep_update, run_program, stack_values

STACK = "dev-external"
DB_URL = (
    "postgresql://grid_app.ref:Sup3rS3cretPw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=verify-full"
)
REDIS_URL = "rediss://default:Upst4shS3cretPw@eu1-grid.upstash.io:6379"
SQL_TYPES = ("gcp:sql/databaseInstance:DatabaseInstance", "gcp:redis/instance:Instance")
PEERING = "gcp:servicenetworking/connection:Connection"


def _load(overrides: dict[str, Any] | None = None, plain: frozenset[str] = frozenset()) -> Any:
    values = deep_update(stack_values(STACK), {"grid:supabaseUrl": DB_URL, "grid:upstashUrl": REDIS_URL})
    values = deep_update(values, overrides or {})
    secret_keys = frozenset({"grid:completionApiKey", "grid:supabaseUrl", "grid:upstashUrl"}) - plain
    return load_stack_config(values, stack=STACK, source=f"Pulumi.{STACK}.yaml", secret_keys=secret_keys)


def _problems(overrides: dict[str, Any], plain: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(overrides, plain)
    return caught.value.lines


def test_the_decrypted_urls_validate() -> None:
    config = _load()
    assert config.database.external.url_secret == "supabaseUrl" and not config.database.cloud_sql
    assert config.cache.enabled and not config.cache.memorystore


@pytest.mark.parametrize(
    ("key", "url", "expected"),
    [
        ("grid:supabaseUrl", DB_URL.replace("verify-full", "require"), "must end in ?sslmode=verify-full"),
        ("grid:supabaseUrl", DB_URL.split("?")[0], "must end in ?sslmode=verify-full"),
        ("grid:supabaseUrl", "mysql://u:Pw@h/db?sslmode=verify-full", "must be a postgresql://"),
        ("grid:upstashUrl", REDIS_URL.replace("rediss", "redis"), "must be a rediss:// URL"),
        # Supabase's administrator (bypasses row-level security: the services would refuse it at start).
        ("grid:supabaseUrl", DB_URL.replace("grid_app.ref", "postgres.ref"), "postgres administrator"),
        ("grid:supabaseUrl", DB_URL.replace("grid_app.ref", "postgres"), "create an ordinary role"),
    ],
)
def test_a_url_that_does_not_verify_the_server_is_one_line_naming_the_key_and_never_the_url(
    key: str, url: str, expected: str
) -> None:
    [line] = _problems({key: url})
    assert line.startswith(f"Pulumi.{STACK}.yaml: {key}: ") and expected in line
    assert "pulumi config set --secret" in line
    assert "Pw@" not in line and "S3cret" not in line


def test_the_url_must_be_a_secret_and_must_be_set() -> None:
    [line] = _problems({}, plain=frozenset({"grid:upstashUrl"}))
    assert "grid:upstashUrl: is a secret and must be encrypted" in line and "S3cret" not in line
    lines = _problems({"grid:cache": {"external": {"urlSecret": "otherUrl"}}})
    assert any(
        "names grid:otherUrl, which is not set: run `pulumi config set --secret grid:otherUrl <url>`" in line
        for line in lines
    )
    assert any("grid:upstashUrl: unknown key" in line for line in lines)  # no longer named by anything


def test_an_external_database_states_its_connection_limit() -> None:
    [line] = _problems({"grid:database": {"maxConnections": None}})
    assert "external: set maxConnections" in line


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory):
    """The program on the decrypted URLs (as under `pulumi up`), with backups exports and data alerts asked for:
    neither has anything to act on without Cloud SQL and Memorystore."""
    directory = tmp_path_factory.mktemp("external")
    (directory / f"Pulumi.{STACK}.yaml").write_text((REPO_ROOT / f"Pulumi.{STACK}.yaml").read_text())
    stack_file = read_stack_file(directory, STACK)
    values = deep_update(
        stack_values(STACK),
        {
            "grid:supabaseUrl": DB_URL,
            "grid:upstashUrl": REDIS_URL,
            "grid:completionApiKey": "sk-test",
            "grid:database": {"exports": {"enabled": True}},
            "grid:monitoring": {"dataAlerts": True},
        },
    )
    return run_program(dataclasses.replace(stack_file, values=values))


def _envs(resource) -> dict[str, Any]:
    containers = resource.inputs["template"].get("template", resource.inputs["template"])["containers"]
    return {e["name"]: e for c in containers for e in c.get("envs", [])}


def test_no_instance_no_peering_no_exports_no_data_alerts(plan) -> None:
    types = {r.type for r in plan.resources}
    assert not types & {
        *SQL_TYPES,
        PEERING,
        "gcp:workflows/workflow:Workflow",
        "random:index/randomPassword:RandomPassword",
    }
    addresses = [r for r in plan.resources if r.type == "gcp:compute/globalAddress:GlobalAddress"]
    assert all(r.inputs.get("purpose") != "VPC_PEERING" for r in addresses)
    alerts = [r.name for r in plan.resources if r.type == "gcp:monitoring/alertPolicy:AlertPolicy"]
    assert alerts and not [a for a in alerts if "sql" in a or "redis" in a]


def test_services_read_both_urls_from_secret_manager_and_verify_with_the_providers_ca(plan) -> None:
    ca = stack_values(STACK)["grid:database"]["external"]["caCert"]
    secrets = {r.inputs["secretId"]: r for r in plan.resources if r.type == "gcp:secretmanager/secret:Secret"}
    assert secrets["grid-dev-external-database-url"].inputs["labels"]["grid-external"] == "postgres"
    assert secrets["grid-dev-external-redis-url"].inputs["labels"]["grid-external"] == "redis"
    for service in ("auth", "api", "ai"):
        run = next(
            r
            for r in plan.resources
            if r.type == "gcp:cloudrunv2/service:Service" and r.name.endswith(f"-{service}-service")
        )
        envs = _envs(run)
        assert envs["DATABASE_URL"]["valueSource"]["secretKeyRef"]["secret"] == "grid-dev-external-database-url"
        assert envs["REDIS_URL"]["valueSource"]["secretKeyRef"]["secret"] == "grid-dev-external-redis-url"
        assert envs["DATABASE_CA_CERT"]["value"] == ca and "REDIS_CA_CERT" not in envs  # Upstash: system CAs
    job = next(r for r in plan.resources if r.type == "gcp:cloudrunv2/job:Job")
    assert "DATABASE_URL" in _envs(job) and "REDIS_URL" not in _envs(job)


def test_the_urls_never_appear_in_the_plan_in_plain_text(plan) -> None:
    text = json.dumps([r.to_json() for r in plan.resources]) + json.dumps(plan.outputs, default=str)
    assert "S3cretPw" not in text and "upstash.io" not in text and "supabase.com" not in text
