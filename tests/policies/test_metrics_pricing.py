"""The app metrics' Cloud Monitoring ingestion, priced on the workloads that export them (policies/pricers.py),
against bills computed by hand from policies/price_catalog.py; and the usage defaults against what the bundled apps
can write in normal operation, counted from their own route tables and metric specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match

from app.common.metrics import EXPORTED
from app.common.settings import ServiceSettings
from policies import pricers
from policies.price_catalog import SECONDS_PER_MONTH
from policies.pricing import USAGE_KEYS, PricingInput, estimate, price_resources
from stacks.routes import PROBES, ROUTES

RUN = "gcp:cloudrunv2/service:Service"
JOB = "gcp:cloudrunv2/job:Job"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
MIB = 2**20
PRICE = 0.2580  # $/MiB past the free 150 MiB (https://cloud.google.com/stackdriver/pricing)
SERIES = {"metricDistributionSeries": 24, "metricScalarSeries": 8}
EXPORT_BYTES = 24 * 80 + 8 * 8  # one export of the default series: DISTRIBUTION points 80 bytes, scalars 8


def exporting(*, min_instances: int = 0, cpu_idle: bool = True, **env: str) -> dict[str, Any]:
    envs = [{"name": k, "value": v} for k, v in {"METRICS_EXPORT": "true", **env}.items()]
    return {
        "location": "us-central1",
        "template": {
            "scaling": {"minInstanceCount": min_instances},
            "containers": [
                {"envs": envs, "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "cpuIdle": cpu_idle}}
            ],
        },
    }


def metrics_line(resource_type: str, props: dict[str, Any], usage: dict[str, Any]) -> pricers.Line:
    [line] = [line for line in estimate(resource_type, props, usage).lines if line.free_pool == "monitoring-mib"]
    return line


def test_an_instance_kept_up_all_month_exports_every_interval() -> None:
    # 100k requests a month arrive every 26 s on average: one instance stays up (Cloud Run keeps an idle one for up
    # to 15 min), and at 60 s that is 43,800 exports of 24 distribution + 8 scalar series.
    line = metrics_line(RUN, exporting(METRICS_EXPORT_INTERVAL_SECONDS="60"), {"requestsPerMonth": 100_000})
    assert line.quantity == pytest.approx(SECONDS_PER_MONTH / 60 * EXPORT_BYTES / MIB)
    assert line.amount == pytest.approx(line.quantity * PRICE)
    assert "43,800 exports every 60 s x 24 distribution + 8 scalar series" in line.label


def test_the_interval_and_the_series_scale_the_bytes() -> None:
    usage = {"requestsPerMonth": 100_000}
    at_60 = metrics_line(RUN, exporting(METRICS_EXPORT_INTERVAL_SECONDS="60"), usage).quantity
    at_120 = metrics_line(RUN, exporting(METRICS_EXPORT_INTERVAL_SECONDS="120"), usage).quantity
    assert at_120 == pytest.approx(at_60 / 2)
    exports = SECONDS_PER_MONTH / 60
    more_distributions = usage | {"metricDistributionSeries": 34}
    assert metrics_line(RUN, exporting(), more_distributions).quantity == pytest.approx(at_60 + exports * 10 * 80 / MIB)
    only_scalars = usage | {"metricDistributionSeries": 0, "metricScalarSeries": 10}
    assert metrics_line(RUN, exporting(), only_scalars).quantity == pytest.approx(exports * 10 * 8 / MIB)


def test_unset_interval_is_the_apps_default() -> None:
    assert (
        ServiceSettings.model_fields["metrics_export_interval_seconds"].default
        == pricers.DEFAULT_EXPORT_INTERVAL_SECONDS
    )
    usage = {"requestsPerMonth": 100_000}
    assert metrics_line(RUN, exporting(), usage) == metrics_line(
        RUN, exporting(METRICS_EXPORT_INTERVAL_SECONDS="60"), usage
    )


@pytest.mark.parametrize("env", [{}, {"METRICS_EXPORT": "false"}])
def test_no_line_without_metrics_export(env: dict[str, str]) -> None:
    props = exporting()
    props["template"]["containers"][0]["envs"] = [{"name": k, "value": v} for k, v in env.items()]
    assert all(line.free_pool != "monitoring-mib" for line in estimate(RUN, props, {}).lines)
    function = {"serviceConfig": {"environmentVariables": env}}
    assert all(line.free_pool != "monitoring-mib" for line in estimate(FUNCTION, function, {}).lines)


def test_min_instances_export_all_month_each() -> None:
    line = metrics_line(RUN, exporting(min_instances=2), {"requestsPerMonth": 1_000_000})
    assert line.quantity == pytest.approx(2 * SECONDS_PER_MONTH / 60 * EXPORT_BYTES / MIB)


def test_sparse_traffic_exports_at_most_once_a_request_under_request_based_billing() -> None:
    # 1,000 requests keep an instance up 1,000 x 15 min = 15,000 intervals, but its CPU is throttled between
    # requests: an overdue export runs at the next request, so 1,000 + the busy time's own (200 s / 60 s).
    usage = {"requestsPerMonth": 1_000}
    line = metrics_line(RUN, exporting(), usage)
    assert line.quantity == pytest.approx((1_000 + 200 / 60) * EXPORT_BYTES / MIB)
    # With CPU always allocated (instance-based billing) the exporter keeps its schedule while the instance is up.
    always = metrics_line(RUN, exporting(cpu_idle=False), usage)
    assert always.quantity == pytest.approx(1_000 * 900 / 60 * EXPORT_BYTES / MIB)


def test_jobs_and_functions_that_export_are_priced_too() -> None:
    job = {"template": {"taskCount": 2, "template": exporting(METRICS_EXPORT_INTERVAL_SECONDS="60")["template"]}}
    line = metrics_line(JOB, job, {"executionsPerMonth": 30, "taskSeconds": 300})
    assert line.quantity == pytest.approx(30 * 2 * (300 // 60 + 1) * EXPORT_BYTES / MIB)  # plus the final flush
    function = {"serviceConfig": {"environmentVariables": {"METRICS_EXPORT": "true"}}}
    assert metrics_line(FUNCTION, function, {"requestsPerMonth": 100_000}).quantity == pytest.approx(
        SECONDS_PER_MONTH / 60 * EXPORT_BYTES / MIB
    )


def test_the_150_mib_free_tier_is_applied_once_per_plan() -> None:
    usage = {"default": {"requestsPerMonth": 100_000}}
    silent = exporting()
    silent["template"]["containers"][0]["envs"] = []
    services = [PricingInput(f"urn:{name}", RUN, name, exporting()) for name in ("auth", "api", "ai")]
    without = price_resources([PricingInput(s.urn, RUN, s.name, silent) for s in services], usage)
    plan = price_resources(services, usage)
    mib = SECONDS_PER_MONTH / 60 * EXPORT_BYTES / MIB  # 82.9 MiB each: the first and part of the second are free
    assert plan.monthly - without.monthly == pytest.approx((3 * mib - 150) * PRICE)
    credits = [r.basis.count("from the monitoring-mib free tier") for r in plan.resources]
    assert credits == [1, 1, 0]


def test_usage_keys_document_the_series_defaults() -> None:
    for key, default in pricers.METRIC_SERIES_DEFAULTS.items():
        assert USAGE_KEYS[key][1] == default
    assert SERIES == pricers.METRIC_SERIES_DEFAULTS  # the hand-computed bills above assume these


# --- the defaults against the bundled apps ---------------------------------------------------------------------

# Label values a scalar metric takes on one instance in normal operation (app/common/metrics.py says who writes
# it): one completion model x prompt/completion; one cache namespace per writer (api's per-user reads, ai's
# embeddings) x l1/l2/miss; one queue depth.
SCALAR_SERIES_PER_WRITER = {"ai/tokens": 1 * 2, "cache/lookups": 1 * 3, "ai/embed_queue_depth": 1}
# Status classes of a normal day: successes and the client errors an operation documents; 5xx is an incident.
NORMAL_CLASSES = ("2", "3", "4")


def _apps(tmp_path: Path) -> dict[str, Any]:
    from app.ai.main import create_app as ai_app
    from app.ai.settings import AiSettings
    from app.api.main import create_app as api_app
    from app.api.settings import ApiSettings
    from app.auth.main import create_app as auth_app
    from app.auth.settings import AuthSettings

    env = {"DATABASE_URL": "postgresql://grid@localhost/grid", "REDIS_URL": "redis://localhost:6379/0"}
    jwks = "http://auth.invalid/auth/.well-known/jwks.json"
    return {
        "auth": auth_app(AuthSettings(**env, JWT_KEY_FILE=tmp_path / "signing.pem"), configure_logs=False),
        "api": api_app(ApiSettings(**env, JWKS_URL=jwks), configure_logs=False),
        "ai": ai_app(AiSettings(**env, JWKS_URL=jwks), configure_logs=False),
    }


def _serves(app: Any, path: str) -> bool:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": [], "query_string": b""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def _latency_series(service: str, app: Any) -> int:
    """(route template, method, status class) combinations an instance of ``service`` records in normal operation:
    each documented operation with its documented 2xx-4xx classes, the probes and uptime checks the schema hides
    (stacks/routes.py PROBES, under the service's gateway prefix too), and 4xx on ``unmatched`` (a mistyped path)."""
    paths = app.openapi()["paths"]
    documented = sum(
        len({status[0] for status in operation["responses"] if status[0] in NORMAL_CLASSES})
        for path_item in paths.values()
        for operation in path_item.values()
    )
    prefixes = [""] + [route.prefix for route in ROUTES if route.workload == service and route.prefix]
    hidden = {f"{prefix}{probe}" for prefix in prefixes for probe in PROBES} - set(paths)
    assert all(_serves(app, path) for path in hidden), hidden
    return documented + len(hidden) + 1


def test_the_default_series_cover_every_bundled_service(tmp_path: Path) -> None:
    apps = _apps(tmp_path)
    scalar_specs = [spec for spec in EXPORTED if spec.value_type != "DISTRIBUTION"]
    assert {spec.name for spec in scalar_specs} == set(SCALAR_SERIES_PER_WRITER)  # a new metric is counted here
    for service, app in apps.items():
        distribution = _latency_series(service, app)
        scalar = sum(SCALAR_SERIES_PER_WRITER[spec.name] for spec in scalar_specs if spec.written_by(service))
        assert distribution <= pricers.METRIC_SERIES_DEFAULTS["metricDistributionSeries"], (service, distribution)
        assert scalar <= pricers.METRIC_SERIES_DEFAULTS["metricScalarSeries"], (service, scalar)
    # Sanity of the count itself: auth's login answers 2xx and 4xx, and its probes are under /auth as well.
    assert _latency_series("auth", apps["auth"]) >= 2 * 5 + 4
