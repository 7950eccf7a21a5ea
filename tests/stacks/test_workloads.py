"""Workloads declared in the stack file (grid:services, grid:jobs, grid:functions) over the registry.

The end-to-end case is the one docs/workloads.md walks through: a copy of Pulumi.dev.yaml gains one service and
one scheduled job (plus their source folders) and nothing else, and the plan gains everything they need.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.stackfile import load_yaml
from stacks.config import ConfigError, load_stack_config
from stacks.naming import Names
from stacks.routes import ROUTES, routes_of
from tests.conftest import DEV_VARIANT, REPO_ROOT, stack_values

ADDED = {
    "grid:services": {
        "billing": {"source": "app/billing", "route": "/billing"},
        # Off the gateway; the scraper's items are pushed to it (the stack file's own consumer).
        "ledger": {"source": "app/ledger", "consumes": {"item.scraped": "/events/items"}},
    },
    "grid:jobs": {"nightly-sync": {"source": "jobs/nightly_sync", "schedule": "0 3 * * *", "reads": ["database"]}},
}


def _project(root: Path, extra: dict[str, Any]) -> Path:
    """A project directory: a copy of Pulumi.dev.yaml with ``extra`` keys, and the source folders they name."""
    document = load_yaml((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    for key, value in extra.items():
        document["config"][key] = {**document["config"].get(key, {}), **value}
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    for folder in ("app/billing", "app/ledger", "jobs/nightly_sync"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "Dockerfile").write_text(
            'FROM python:3.11-slim\nCOPY . /srv\nCMD ["python", "/srv/main.py"]\n'
        )
        (root / folder / "main.py").write_text("print('hello')\n")
    return root


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from grid.plan import make_plan

    return make_plan("dev", root=_project(tmp_path_factory.mktemp("project"), ADDED))


def _named(plan: Any, resource_type: str, name: str) -> Any:
    matches = [r for r in plan.run.resources if r.type == resource_type and r.name == name]
    assert len(matches) == 1, f"no single {resource_type} {name}"
    return matches[0]


def test_a_service_and_a_scheduled_job_added_in_the_stack_file_only(added: Any) -> None:
    plan = added
    sa = "gcp:serviceaccount/account:Account"
    assert _named(plan, sa, "grid-dev-identity-billing").inputs["accountId"] == "grid-dev-billing"
    assert _named(plan, sa, "grid-dev-identity-nightly-sync").inputs["accountId"] == "grid-dev-nightly-sync"

    service = _named(plan, "gcp:cloudrunv2/service:Service", "grid-dev-billing-service")
    assert service.inputs["template"]["serviceAccount"] == "grid-dev-billing@acme-grid-dev.iam.gserviceaccount.com"
    env = {e["name"] for e in service.inputs["template"]["containers"][0]["envs"]}
    assert env == {"ENVIRONMENT", "GOOGLE_CLOUD_PROJECT", "LOG_LEVEL"}  # reads nothing: gets nothing
    # No METRICS_EXPORT (above) and no custom-metric writing: only the bundled services export app metrics.
    assert not [r for r in plan.run.resources if r.type == "gcp:projects/iAMMember:IAMMember" and "billing" in r.name]
    image = _named(plan, "docker-build:index:Image", "grid-dev-billing-image-image")
    assert image.inputs["dockerfile"]["location"].endswith("app/billing/Dockerfile")

    job = _named(plan, "gcp:cloudrunv2/job:Job", "grid-dev-nightly-sync-job")
    container = job.inputs["template"]["template"]["containers"][0]
    assert {e["name"] for e in container["envs"]} >= {"DATABASE_URL", "DB_POOL_MAX_SIZE"}
    schedule = _named(plan, "gcp:cloudscheduler/job:Job", "grid-dev-schedules-nightly-sync")
    assert schedule.inputs["schedule"] == "0 3 * * *"
    target = schedule.inputs["httpTarget"]
    assert target["uri"].endswith("/jobs/grid-dev-nightly-sync:run")
    assert target["oauthToken"]["serviceAccountEmail"].startswith("grid-dev-invoker@")

    # IAM: the scheduler's identity may run the job; the gateway may invoke the service; the job reads the URL.
    runner = _named(plan, "gcp:cloudrunv2/jobIamMember:JobIamMember", "grid-dev-nightly-sync-invoker-invoker")
    assert runner.inputs["role"] == "roles/run.invoker"
    gateway = _named(plan, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "grid-dev-billing-invoker-gateway")
    assert gateway.inputs["member"].startswith("serviceAccount:grid-dev-gateway@")
    access = _named(
        plan, "gcp:secretmanager/secretIamMember:SecretIamMember", "grid-dev-db-url-secret-access-nightly-sync"
    )
    assert access.inputs["role"] == "roles/secretmanager.secretAccessor"

    # The gateway route: API Gateway's OpenAPI document sends /billing and /billing/* to the service.
    config = next(r for r in plan.run.resources if r.type == "gcp:apigateway/apiConfig:ApiConfig")
    spec = json.loads(base64.b64decode(config.inputs["openapiDocuments"][0]["document"]["contents"]))
    billing = [p for p in spec["paths"] if p.startswith("/billing")]
    assert billing and all("billing" in json.dumps(spec["paths"][p]) for p in billing)

    mandatory = [v for v in plan.violations if v.get("enforcementLevel") == "mandatory"]
    assert not mandatory, mandatory


def test_a_service_of_the_stack_file_consumes_an_event_type_a_job_publishes(added: Any) -> None:
    """consumes in the stack file: the scraper publishes item.scraped, so the stack file's own ledger service gets a
    filtered push subscription to its path, with the invoker's token for an audience it accepts and can check."""
    plan = added
    subscription = _named(plan, "gcp:pubsub/subscription:Subscription", "grid-dev-events-ledger-item-scraped")
    assert subscription.inputs["filter"] == 'attributes.type = "item.scraped"'
    push = subscription.inputs["pushConfig"]
    assert push["pushEndpoint"].startswith("https://grid-dev-ledger-") and push["pushEndpoint"].endswith(
        ".run.app/events/items"
    )
    token = push["oidcToken"]
    assert token["serviceAccountEmail"].startswith("grid-dev-invoker@")
    service = _named(plan, "gcp:cloudrunv2/service:Service", "grid-dev-ledger-service")
    assert service.inputs["customAudiences"] == [token["audience"]]  # Cloud Run accepts the pushes' tokens
    envs = {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"]}
    assert envs["PUSH_AUDIENCE"] == token["audience"]  # ... and the service can check them itself
    assert envs["PUSH_SERVICE_ACCOUNT"] == token["serviceAccountEmail"]
    invoker = _named(plan, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "grid-dev-ledger-invoker-invoker")
    assert invoker.inputs["member"] == f"serviceAccount:{token['serviceAccountEmail']}"
    # billing consumes nothing: no subscription, no push settings.
    billing = _named(plan, "gcp:cloudrunv2/service:Service", "grid-dev-billing-service")
    assert not billing.inputs.get("customAudiences")


def _load(extra: dict[str, Any], root: Path | None = None) -> Any:
    values = {**stack_values("dev"), **extra}
    secrets = frozenset({"grid:completionApiKey"})
    return load_stack_config(values, stack="dev", source="Pulumi.dev.yaml", secret_keys=secrets, root=root)


def _error(extra: dict[str, Any], root: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(extra, root)
    assert len(caught.value.lines) == 1, caught.value.lines
    return caught.value.lines[0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"grid:services": {"billing": {"route": "/billing"}}}, "grid:services.billing.source: required"),
        ({"grid:services": {"billing": {"source": "../x"}}}, "grid:services.billing.source: '../x' must be a relative"),
        ({"grid:services": {"billing": {"source": "b", "route": "billing/"}}}, "grid:services.billing.route:"),
        ({"grid:services": {"billing": {"source": "b", "route": "/ai"}}}, "overlaps /ai of ai"),
        (
            {"grid:services": {"billing": {"source": "b", "cpus": 2}}},
            "grid:services.billing.cpus: unknown key; did you mean 'cpu'?",
        ),
        ({"grid:services": {"Billing": {"source": "b"}}}, "'Billing' is not a workload name"),
        ({"grid:services": {"auth": {"enabled": False}}}, "grid:services.auth.enabled: api needs auth"),
        ({"grid:services": {"api": {"enabled": False}}}, "grid:services.api.enabled: cannot be false"),
        (
            {"grid:jobs": {"gateway": {"source": "g"}}},
            "grid:jobs.gateway: 'gateway' is the name of a platform identity",
        ),
        ({"grid:jobs": {"api": {"source": "a"}}}, "'api' is already declared under grid:services"),
        ({"grid:jobs": {"x": {"source": "x", "schedule": "every day"}}}, "grid:jobs.x.schedule:"),
        ({"grid:jobs": {"x": {"source": "x", "env": {"DATABASE_URL": "y"}}}}, "'DATABASE_URL' is set by the platform"),
        (
            {"grid:services": {"x": {"source": "x", "env": {"METRICS_EXPORT": "true"}}}},
            "'METRICS_EXPORT' is set by the platform (from reads, secrets, exportsMetrics)",
        ),
        ({"grid:functions": {"f": {"source": "f", "reads": ["queue"]}}}, "grid:functions.f.reads[0]: must be one of"),
        (
            {"grid:jobs": {"x": {"source": "x", "reads": ["database"], "publishes": ["item.scraped"]}}},
            "grid:jobs.x.publishes: needs events in grid:jobs.x.reads",
        ),
        (
            {"grid:jobs": {"x": {"source": "x", "reads": ["events"], "publishes": ["Item Scraped"]}}},
            "grid:jobs.x.publishes: 'Item Scraped' must be an event type like item.scraped",
        ),
        (
            {"grid:services": {"x": {"source": "x", "consumes": {"scraped": "/items"}}}},
            "grid:services.x.consumes: 'scraped' must be an event type like item.scraped",
        ),
        (
            {"grid:services": {"x": {"source": "x", "consumes": {"item.scraped": "items"}}}},
            "grid:services.x.consumes: item.scraped: 'items' must be a path of the service like /events/items",
        ),
        # Pushes go to a service's URL: a job has none.
        (
            {"grid:jobs": {"x": {"source": "x", "consumes": {"item.scraped": "/i"}}}},
            "grid:jobs.x.consumes: unknown key",
        ),
        ({"grid:services": {"x": {"source": "x", "env": {"PUSH_AUDIENCE": "a"}}}}, "'PUSH_AUDIENCE' is set by"),
        ({"grid:jobs": {"x": {"source": "x", "env": {"DATABASE_CA_CERT": "y"}}}}, "'DATABASE_CA_CERT' is set by"),
    ],
)
def test_bad_entries_are_one_line_naming_file_and_key(extra: dict[str, Any], expected: str) -> None:
    line = _error(extra)
    assert line.startswith("Pulumi.dev.yaml: ") and expected in line, line


def test_exporting_app_metrics_is_the_bundled_services_default_and_a_declaration_for_others(synth) -> None:
    """exportsMetrics: an own service that declares it gets METRICS_EXPORT, at the stack's interval, and may write
    custom metrics; a bundled service whose stack file turns it off gets neither (its image still carries the
    exporter)."""
    plan = synth("dev", DEV_VARIANT)  # billing exports at 300 s, ai's export off
    assert DEV_VARIANT["grid:services"]["billing"]["exportsMetrics"] is True
    assert DEV_VARIANT["grid:services"]["ai"]["exportsMetrics"] is False
    assert DEV_VARIANT["grid:monitoring"]["metricsExportIntervalSeconds"] == 300
    writers = {
        r.name.removeprefix("grid-dev-identity-").removesuffix("-monitoring-metricwriter")
        for r in plan.of_type("gcp:projects/iAMMember:IAMMember")
        if r.inputs["role"] == "roles/monitoring.metricWriter"
    }
    assert writers == {"auth", "api", "billing"}
    for name in ("auth", "api", "ai", "billing"):
        service = plan.one("gcp:cloudrunv2/service:Service", f"grid-dev-{name}-service")
        envs = {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"]}
        assert envs.get("METRICS_EXPORT") == ("true" if name in writers else None), name
        assert envs.get("METRICS_EXPORT_INTERVAL_SECONDS") == ("300" if name in writers else None), name


def test_a_source_folder_without_its_dockerfile_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app" / "billing").mkdir(parents=True)
    line = _error({"grid:services": {"billing": {"source": "app/billing"}}}, root=tmp_path)
    assert "grid:services.billing.source: app/billing has no Dockerfile in " in line


def test_bundled_workloads_are_defaults_a_stack_file_resizes_or_switches_off() -> None:
    config = _load({"grid:functions": {"koreanNlp": {"memory": "1Gi"}, "ml-analytics": {"maxInstances": 4}}})
    assert config.functions.korean_nlp.memory == "1Gi"  # the key spelt before the registry still works
    assert config.functions["ml-analytics"].max_instances == 4
    assert config.services.ai.memory == "2Gi"  # the bundled default stays under a partial entry
    off = _load({"grid:functions": {"korean-nlp": {"enabled": False}}, "grid:services": {"ai": {"enabled": False}}})
    names = {w.name for w in off.workloads}
    assert "korean-nlp" not in names and "ai" not in names
    assert "grid-dev-korean-nlp" not in {name for _, name, _ in Names(off).checked()}


def test_routes_derive_from_the_registry_with_the_default_route_last() -> None:
    # docs/design.md §7: /auth, /ai, /fn/<function> by prefix, everything else to the api.
    assert [(r.workload, r.prefix) for r in ROUTES] == [
        ("auth", "/auth"),
        ("ai", "/ai"),
        ("korean-nlp", "/fn/korean-nlp"),
        ("ml-analytics", "/fn/ml-analytics"),
        ("api", None),
    ]
    config = _load({"grid:services": {"billing": {"source": "b", "route": "/billing"}}})
    assert ("billing", "/billing") in [(r.workload, r.prefix) for r in routes_of(config.workloads)]


def test_every_variable_the_platform_sets_for_a_workload_is_refused_in_its_env() -> None:
    """A stack file's env is applied last, so a name the platform sets must be refused there or the entry would
    silently replace it (DATABASE_CA_CERT once could: the reserved list was written apart from workload_env)."""
    from components.secrets import SecretRef
    from stacks.config import _RESERVED_ENV, SECRET_KEYS
    from stacks.service_env import WorkloadSources, workload_env
    from stacks.workloads import Workload

    ref = SecretRef(secret="s", version="1")
    everything = Workload(
        name="x",
        kind="service",
        source="x",
        reads=frozenset({"database", "cache", "events"}),
        secrets=tuple(SECRET_KEYS),
        exports_metrics=True,
    )
    sources = WorkloadSources(
        environment="dev",
        project="p",
        database_url=ref,
        database_ca_cert="ca",
        redis_url=ref,
        redis_ca_cert="ca",
        events_topic="t",
        db_pools={"x": 2},
        config_secrets=dict.fromkeys(SECRET_KEYS, ref),
        metrics_export_interval_seconds=60,
        pushed_to=frozenset({"x"}),
        push_audience="aud",
        push_invoker_email="invoker@p",
    )
    env = workload_env(everything, sources)
    assert {*env.plain, *env.secrets} <= _RESERVED_ENV, {*env.plain, *env.secrets} - _RESERVED_ENV
