"""Monitoring as the offline engine records it: channels, checks, alerts, dashboard, metrics, SLO, budget."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.common.metrics import EXPORTED
from components.monitoring import TOKEN_METRIC, Monitoring, MonitoringArgs, MonitoringConfig
from tests.components.offline_program import OfflineRun, outside_any_program, run_offline

PROJECT = "acme-grid-test"
NUMBER = "123456789012"
ACCOUNT = "01ABCD-234567-89ABCD"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
UPTIME = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
BUDGET = "gcp:billing/budget:Budget"
DESCRIPTOR = "gcp:monitoring/metricDescriptor:MetricDescriptor"
ENDPOINTS = [
    ("api", "api.acme.io", "/health"),
    ("auth", "api.acme.io", "/auth/health"),
    ("ai", "api.acme.io", "/ai/health"),
]
SERVICES = {"api": "grid-test-api", "auth": "grid-test-auth", "ai": "grid-test-ai"}

PROD: dict[str, Any] = {
    "alertEmails": ["ops@acme.io", "oncall@acme.io"],
    "latencyP95Ms": 800,
    "errorRatio": 0.01,
    "sqlCpuUtilization": 0.75,
    "paging": True,
    "dashboards": True,
    "slos": True,
    "budget": {"billingAccount": ACCOUNT, "monthlyUsd": 150.25, "thresholds": [0.5, 0.9, 1.2]},
}
DEV: dict[str, Any] = {"alertEmails": ["dev@acme.io"], "latencyAlerts": False, "dashboards": False}


def _monitoring(tmp_path: Path, config: dict[str, Any], **overrides: Any) -> OfflineRun:
    args: dict[str, Any] = {
        "config": MonitoringConfig.model_validate(config),
        "project": PROJECT,
        "project_number": NUMBER,
        "environment": "test",
        "display_prefix": "grid-test",
        "endpoints": ENDPOINTS,
        "run_services": SERVICES,
        "functions": {"ml-analytics": "grid-test-ml-analytics"},
        "sql_database_ids": [f"{PROJECT}:grid-test-db"],
        "slack_auth_token": "xoxb-offline-token",
        "pagerduty_routing_key": "pd-offline-key" if config.get("paging") else None,
        "budget_topic_id": f"projects/{PROJECT}/topics/grid-test-budget",
    } | overrides
    return run_offline(lambda: Monitoring("grid-test-monitoring", MonitoringArgs(**args)), tmp_path)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> OfflineRun:
    redis = f"projects/{PROJECT}/locations/us-central1/instances/grid-test-cache"
    return _monitoring(tmp_path_factory.mktemp("prod"), PROD, redis_instance_id=redis)


def _policies(run: OfflineRun) -> dict[str, dict[str, Any]]:
    return {p.name.removeprefix("grid-test-monitoring-alert-"): p.inputs for p in run.of_type(POLICY)}


def _channels(run: OfflineRun) -> dict[str, Any]:
    """Channel type/address -> its fake-cloud name, the value policies reference."""
    return {
        c.inputs.get("labels", {}).get("email_address", c.inputs["type"]): c.outputs["name"]
        for c in run.of_type(CHANNEL)
    }


def test_one_email_channel_per_address(prod: OfflineRun) -> None:
    emails = [c.inputs for c in prod.of_type(CHANNEL) if c.inputs["type"] == "email"]
    assert sorted(c["labels"]["email_address"] for c in emails) == ["oncall@acme.io", "ops@acme.io"]


def test_slack_and_pagerduty_secrets_are_sensitive_labels_only(prod: OfflineRun) -> None:
    slack = prod.one(CHANNEL, "-channel-slack")
    assert slack.inputs["labels"] == {"channel_name": "#alerts"}
    assert slack.inputs["sensitiveLabels"] == "[secret]"
    assert slack.outputs["sensitiveLabels"] == "[secret]"  # still secret in state, as with the real provider
    pagerduty = prod.one(CHANNEL, "-channel-pagerduty")
    assert pagerduty.inputs["sensitiveLabels"] == "[secret]" and "labels" not in pagerduty.inputs
    assert pagerduty.outputs["sensitiveLabels"] == "[secret]"
    everything = json.dumps([(r.inputs, r.outputs) for r in prod.resources])
    assert "offline-token" not in everything and "pd-offline-key" not in everything


def test_only_critical_policies_page(prod: OfflineRun) -> None:
    channels = _channels(prod)
    pager = channels.pop("pagerduty")
    everyone = set(channels.values())
    for key, policy in _policies(prod).items():
        targets = set(policy["notificationChannels"])
        critical = policy["severity"] == "CRITICAL"
        assert targets == (everyone | {pager} if critical else everyone), key
    critical = {k for k, p in _policies(prod).items() if p["severity"] == "CRITICAL"}
    assert critical == {"5xx", "uptime", "sql-disk", "slo-burn-api"}


def test_without_paging_there_is_no_pagerduty_channel(tmp_path: Path) -> None:
    run = _monitoring(tmp_path, DEV)
    assert "pagerduty" not in _channels(run)
    assert all(len(p["notificationChannels"]) == 2 for p in _policies(run).values())  # email + Slack


def test_paging_without_a_routing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="no pagerduty_routing_key"):  # by the args, outside any program
        outside_any_program(
            lambda: Monitoring(
                "x",
                MonitoringArgs(
                    config=MonitoringConfig.model_validate({"paging": True}),
                    project=PROJECT,
                    project_number=NUMBER,
                    environment="prod",
                    display_prefix="x",
                ),
            )
        )


def test_every_policy_is_documented(prod: OfflineRun) -> None:
    for key, policy in _policies(prod).items():
        docs = policy["documentation"]
        assert docs["mimeType"] == "text/markdown", key
        assert "## What it means" in docs["content"] and "## What to do" in docs["content"], key
        assert "1. " in docs["content"] and docs["subject"], key


def test_5xx_ratio_uses_a_denominator_per_service(prod: OfflineRun) -> None:
    [condition] = _policies(prod)["5xx"]["conditions"]
    threshold = condition["conditionThreshold"]
    assert threshold["thresholdValue"] == 0.01 and threshold["comparison"] == "COMPARISON_GT"
    assert 'metric.label.response_code_class="5xx"' in threshold["filter"]
    # One condition covers every service and is grouped by service, so each still alerts on its own.
    assert 'resource.label.service_name=one_of("grid-test-ai","grid-test-api","grid-test-auth")' in threshold["filter"]
    assert threshold["aggregations"][0]["groupByFields"] == ["resource.label.service_name"]
    assert threshold["denominatorFilter"] == threshold["filter"].replace(
        ' AND metric.label.response_code_class="5xx"', ""
    )
    numerator, denominator = threshold["aggregations"][0], threshold["denominatorAggregations"][0]
    assert numerator == denominator
    assert numerator["perSeriesAligner"] == "ALIGN_RATE" and numerator["crossSeriesReducer"] == "REDUCE_SUM"


def test_latency_alerts_follow_config(prod: OfflineRun, tmp_path: Path) -> None:
    [condition] = _policies(prod)["latency"]["conditions"]
    threshold = condition["conditionThreshold"]
    assert threshold["thresholdValue"] == 800
    assert 'metric.type="run.googleapis.com/request_latencies"' in threshold["filter"]
    assert threshold["aggregations"][0]["perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert "latency" not in _policies(_monitoring(tmp_path, DEV))


def test_sql_and_redis_alerts_use_the_instance_labels(prod: OfflineRun) -> None:
    policies = _policies(prod)
    cpu = policies["sql-cpu"]["conditions"][0]["conditionThreshold"]
    disk = policies["sql-disk"]["conditions"][0]["conditionThreshold"]
    assert cpu["thresholdValue"] == 0.75 and disk["thresholdValue"] == 0.85
    for threshold in (cpu, disk):
        assert f'resource.label.database_id="{PROJECT}:grid-test-db"' in threshold["filter"]
    redis = policies["redis-memory"]["conditions"][0]["conditionThreshold"]
    assert 'metric.type="redis.googleapis.com/stats/memory/usage_ratio"' in redis["filter"]
    assert "instances/grid-test-cache" in redis["filter"] and redis["thresholdValue"] == 0.8


def test_no_redis_no_redis_alert(tmp_path: Path) -> None:
    assert "redis-memory" not in _policies(_monitoring(tmp_path, DEV))


def test_function_errors_count_error_logs_of_the_function_service(prod: OfflineRun) -> None:
    policy = prod.one(POLICY, "-alert-function-errors")
    [condition] = policy.inputs["conditions"]
    threshold = condition["conditionThreshold"]
    assert 'metric.type="logging.googleapis.com/user/grid-test/app_errors"' in threshold["filter"]
    assert 'resource.label.service_name=one_of("grid-test-ml-analytics")' in threshold["filter"]
    assert prod.one("gcp:logging/metric:Metric").urn in policy.dependencies


def test_uptime_checks_are_https_with_ssl_validation(prod: OfflineRun) -> None:
    checks = {c.name.removeprefix("grid-test-monitoring-uptime-"): c.inputs for c in prod.of_type(UPTIME)}
    assert {k: c["httpCheck"]["path"] for k, c in checks.items()} == {p[0]: p[2] for p in ENDPOINTS}
    for check in checks.values():
        assert check["httpCheck"] | {"path": "/"} == {
            "path": "/",
            "port": 443,
            "useSsl": True,
            "validateSsl": True,
            "requestMethod": "GET",
        }
        assert check["monitoredResource"] == {
            "type": "uptime_url",
            "labels": {"project_id": PROJECT, "host": "api.acme.io"},
        }
        assert check["period"] == "300s" and "contentMatchers" not in check
    [condition] = _policies(prod)["uptime"]["conditions"]
    check_ids = {c.outputs["uptimeCheckId"] for c in prod.of_type(UPTIME)}
    watched = condition["conditionThreshold"]["filter"].split("check_id=one_of(", 1)[1].split(")", 1)[0]
    assert set(json.loads(f"[{watched}]")) == check_ids
    assert condition["conditionThreshold"]["aggregations"][0]["groupByFields"][0] == "metric.label.check_id"


def test_no_public_endpoints_means_no_uptime_checks(tmp_path: Path) -> None:
    run = _monitoring(tmp_path, DEV, endpoints=[])
    assert not run.of_type(UPTIME) and "uptime" not in _policies(run)


def test_uptime_content_matcher_and_period(tmp_path: Path) -> None:
    run = _monitoring(tmp_path, DEV | {"uptimePeriodSeconds": 60}, endpoints=ENDPOINTS[:1], uptime_content='"ok"')
    check = run.one(UPTIME).inputs
    assert check["period"] == "60s"
    assert check["contentMatchers"] == [{"content": '"ok"', "matcher": "CONTAINS_STRING"}]


def test_dashboard_json_has_the_widgets(prod: OfflineRun, tmp_path: Path) -> None:
    dashboard = json.loads(prod.one("gcp:monitoring/dashboard:Dashboard").inputs["dashboardJson"])
    widgets = dashboard["gridLayout"]["widgets"]
    queries = {w["title"]: w["xyChart"]["dataSets"][0]["timeSeriesQuery"] for w in widgets}
    filters = {title: q["timeSeriesFilter"] for title, q in queries.items() if "timeSeriesFilter" in q}
    ratio = queries["Cache hit ratio by cache"]["timeSeriesFilterRatio"]
    assert 'metric.label.result=one_of("l1","l2")' in ratio["numerator"]["filter"]
    assert "metric.label.result" not in ratio["denominator"]["filter"]
    assert filters["p95 latency (ms) by route"]["aggregation"]["crossSeriesReducer"] == "REDUCE_PERCENTILE_95"
    assert set(filters) >= {
        "Requests/s by service",
        "5xx/s by service",
        "p95 latency (ms) by service",
        "Cloud SQL CPU utilization",
        "AI tokens/s by model",
        "Redis memory usage ratio",
        "p95 latency (ms) by route",
        "AI embedding queue depth",
    }
    tokens = filters["AI tokens/s by model"]
    assert TOKEN_METRIC in tokens["filter"] and "metric.label.model" in tokens["aggregation"]["groupByFields"]
    assert filters["p95 latency (ms) by service"]["aggregation"]["perSeriesAligner"] == "ALIGN_PERCENTILE_95"
    assert not _monitoring(tmp_path, DEV).of_type("gcp:monitoring/dashboard:Dashboard")


def test_app_metric_charts_align_over_the_export_interval(prod: OfflineRun, tmp_path: Path) -> None:
    """The app's metrics arrive once per export interval: charted over a shorter window they would show gaps."""

    def windows(run: OfflineRun) -> dict[bool, set[str]]:
        dashboard = json.loads(run.one("gcp:monitoring/dashboard:Dashboard").inputs["dashboardJson"])
        out: dict[bool, set[str]] = {True: set(), False: set()}
        for filter_, aggregation in _filters(dashboard):
            out[bool(_CUSTOM.search(filter_))].add(aggregation["alignmentPeriod"])
        return out

    assert windows(prod) == {True: {"60s"}, False: {"60s"}}
    slower = _monitoring(tmp_path, PROD | {"metricsExportIntervalSeconds": 300})
    assert windows(slower) == {True: {"300s"}, False: {"60s"}}


def test_token_metric_has_model_and_kind_but_no_user_id(prod: OfflineRun) -> None:
    descriptor = prod.one(DESCRIPTOR, "-ai-tokens").inputs
    assert descriptor["type"] == "custom.googleapis.com/grid/ai/tokens"
    assert descriptor["metricKind"] == "CUMULATIVE" and descriptor["valueType"] == "INT64"
    assert sorted(label["key"] for label in descriptor["labels"]) == ["kind", "model"]


def test_error_log_metric_counts_cloud_run_errors(prod: OfflineRun) -> None:
    metric = prod.one("gcp:logging/metric:Metric").inputs
    assert metric["name"] == "grid-test/app_errors"
    assert metric["filter"] == 'severity>=ERROR AND resource.type="cloud_run_revision"'
    assert metric["metricDescriptor"]["metricKind"] == "DELTA"


def test_what_reads_the_log_metric_waits_for_monitoring_to_know_it(prod: OfflineRun) -> None:
    """depends_on the metric alone fails with "Cannot find metric(s)" for minutes after it is created."""
    metric = prod.one("gcp:logging/metric:Metric")
    [wait] = prod.of_type("time:index/sleep:Sleep")
    assert wait.inputs["createDuration"] == "600s"  # "could take up to 10 minutes to become available"
    assert wait.inputs["triggers"] == {"metric": metric.outputs["name"]}  # a new metric waits again
    assert metric.urn in wait.dependencies
    readers = [prod.one(POLICY, "-alert-function-errors"), prod.one("gcp:monitoring/dashboard:Dashboard")]
    assert all(wait.urn in r.dependencies for r in readers)
    dashboard = prod.one("gcp:monitoring/dashboard:Dashboard")
    assert all(d.urn in dashboard.dependencies for d in prod.of_type(DESCRIPTOR))


def test_slo_is_request_based_on_the_api_service(prod: OfflineRun, tmp_path: Path) -> None:
    service = prod.one("gcp:monitoring/customService:CustomService").inputs
    slo = prod.one("gcp:monitoring/slo:Slo").inputs
    assert slo["service"] == service["serviceId"] == "grid-test-api"
    assert slo["goal"] == 0.995 and slo["rollingPeriodDays"] == 28
    ratio = slo["requestBasedSli"]["goodTotalRatio"]
    assert 'service_name="grid-test-api"' in ratio["totalServiceFilter"]
    assert ratio["goodServiceFilter"].startswith(ratio["totalServiceFilter"] + " AND ")
    assert "5xx" not in ratio["goodServiceFilter"]
    burn = _policies(prod)["slo-burn-api"]["conditions"][0]["conditionThreshold"]
    assert (
        burn["filter"].startswith('select_slo_burn_rate("projects/')
        and "/serviceLevelObjectives/availability" in burn["filter"]
    )
    assert not _monitoring(tmp_path, DEV).of_type("gcp:monitoring/slo:Slo")


def test_budget_thresholds_project_filter_channels_and_topic(prod: OfflineRun) -> None:
    budget = prod.one(BUDGET).inputs
    assert budget["billingAccount"] == ACCOUNT
    assert budget["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "150", "nanos": 250000000}}
    assert budget["budgetFilter"]["projects"] == [f"projects/{NUMBER}"]
    assert budget["thresholdRules"] == [{"thresholdPercent": t, "spendBasis": "CURRENT_SPEND"} for t in (0.5, 0.9, 1.2)]
    rule = budget["allUpdatesRule"]
    emails = [c.outputs["name"] for c in prod.of_type(CHANNEL) if c.inputs["type"] == "email"]
    assert sorted(rule["monitoringNotificationChannels"]) == sorted(emails)  # budgets accept email channels only
    assert rule["pubsubTopic"] == f"projects/{PROJECT}/topics/grid-test-budget" and rule["schemaVersion"] == "1.0"
    assert prod.one(BUDGET).outputs["name"].startswith(f"billingAccounts/{ACCOUNT}/budgets/")


def test_budget_is_called_with_the_stack_project_as_quota_project(prod: OfflineRun) -> None:
    """Otherwise the Budget API is billed to the caller's project, where it is not enabled (403 on first up)."""
    [billing] = [p for p in prod.of_type("pulumi:providers:gcp") if p.name == "grid-test-monitoring-billing"]
    assert billing.inputs["billingProject"] == PROJECT
    assert json.loads(str(billing.inputs["userProjectOverride"])) is True
    assert prod.one(BUDGET).provider.startswith(f"{billing.urn}::")


def test_no_billing_account_no_budget(tmp_path: Path) -> None:
    assert not _monitoring(tmp_path, DEV).of_type(BUDGET)


def test_outputs(tmp_path: Path) -> None:
    def build() -> None:
        import pulumi

        args = MonitoringArgs(
            config=MonitoringConfig.model_validate(PROD),
            project=PROJECT,
            project_number=NUMBER,
            environment="test",
            display_prefix="grid-test",
            run_services=SERVICES,
            pagerduty_routing_key="key",
        )
        monitoring = Monitoring("grid-test-monitoring", args)
        pulumi.export("channels", monitoring.notification_channel_ids)
        pulumi.export("policies", monitoring.alert_policy_names)
        pulumi.export("dashboard", monitoring.dashboard_id)
        pulumi.export("budget", monitoring.budget_id)

    outputs = run_offline(build, tmp_path).outputs
    assert len(outputs["channels"]) == 3  # two emails and PagerDuty
    assert all(c.startswith(f"projects/{PROJECT}/notificationChannels/") for c in outputs["channels"])
    assert set(outputs["policies"]) == {"5xx", "latency", "slo-burn-api"}
    assert outputs["dashboard"].startswith("projects/") and "/dashboards/" in outputs["dashboard"]
    assert outputs["budget"].startswith(f"billingAccounts/{ACCOUNT}/budgets/")


# What Monitoring lets a chart or condition do with each kind of metric
# (https://cloud.google.com/monitoring/api/v3/aggregation#alignment): rates and deltas of cumulative counters,
# deltas or percentiles of distributions, and plain statistics of gauges.
_ALIGNERS = {
    ("CUMULATIVE", "INT64"): {"ALIGN_RATE", "ALIGN_DELTA"},
    ("CUMULATIVE", "DISTRIBUTION"): {
        "ALIGN_DELTA",
        "ALIGN_PERCENTILE_99",
        "ALIGN_PERCENTILE_95",
        "ALIGN_PERCENTILE_50",
    },
    ("GAUGE", "INT64"): {"ALIGN_MAX", "ALIGN_MIN", "ALIGN_MEAN", "ALIGN_SUM"},
}
_CUSTOM = re.compile(r'metric\.type="(custom\.googleapis\.com/[^"]+)"')


def _filters(node: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every (filter, aggregation) pair anywhere in a dashboard's or policy's inputs."""
    if isinstance(node, list):
        return [pair for item in node for pair in _filters(item)]
    if not isinstance(node, dict):
        return []
    own = [(node["filter"], node.get("aggregation") or {})] if isinstance(node.get("filter"), str) else []
    return own + [pair for value in node.values() for pair in _filters(value)]


def test_the_plan_reads_exactly_the_metrics_the_apps_export(prod: OfflineRun) -> None:
    """Descriptors, dashboard charts, alert conditions and log metrics name the custom metric types
    app/common/metrics.py exports, with its kinds, labels and resource, and aggregate them as their kinds allow."""
    from app.common.monitoring_api import MONITORED_RESOURCE  # imports the exporter's libraries: only here

    exported = {spec.type: spec for spec in EXPORTED}
    descriptors = {d.inputs["type"]: d.inputs for d in prod.of_type(DESCRIPTOR)}
    assert set(descriptors) == set(exported)
    for type_, descriptor in descriptors.items():
        spec = exported[type_]
        assert (descriptor["metricKind"], descriptor["valueType"], descriptor["unit"]) == (
            spec.kind,
            spec.value_type,
            spec.unit,
        ), type_
        assert {label["key"] for label in descriptor.get("labels") or []} == set(spec.labels), type_

    readers = [json.loads(prod.one("gcp:monitoring/dashboard:Dashboard").inputs["dashboardJson"])]
    readers += [p.inputs for p in prod.of_type(POLICY)] + [m.inputs for m in prod.of_type("gcp:logging/metric:Metric")]
    read: set[str] = set()
    for filter_, aggregation in _filters(readers):
        for type_ in _CUSTOM.findall(filter_):
            assert type_ in exported, f"{type_} is read by the plan but no app writes it"
            spec = exported[type_]
            read.add(type_)
            assert f'resource.type="{MONITORED_RESOURCE}"' in filter_, filter_
            labels = set(re.findall(r"metric\.labels?\.(\w+)", filter_ + json.dumps(aggregation)))
            assert labels <= set(spec.labels), f"{type_}: no label {labels - set(spec.labels)}"
            aligner = aggregation.get("perSeriesAligner") or aggregation.get("per_series_aligner")
            assert aligner in _ALIGNERS[(spec.kind, spec.value_type)], f"{type_}: {aligner} on a {spec.kind}"
    assert read == set(exported), f"exported but charted nowhere: {set(exported) - read}"


def test_every_service_that_writes_an_app_metric_exports_it_in_the_plan(synth) -> None:
    """The series the charts read come from every service that writes them: each service app/common/metrics.py
    says writes a metric (``written_by``) has METRICS_EXPORT on in the shipped plan and may write custom metrics;
    no other workload exports (a stack file's own services do not get it)."""
    plan = synth("prod")
    services = {run.inputs["labels"]["grid-service"]: run for run in plan.of_type("gcp:cloudrunv2/service:Service")}
    exporting = set()
    for service, run in services.items():
        [container] = run.inputs["template"]["containers"]
        if {e["name"]: e.get("value") for e in container["envs"]}.get("METRICS_EXPORT") == "true":
            exporting.add(service)
    writers = {service for spec in EXPORTED for service in services if spec.written_by(service)}
    assert exporting == writers
    accounts = {service: run.inputs["template"]["serviceAccount"] for service, run in services.items()}
    may_write = {
        member.inputs["member"].removeprefix("serviceAccount:")
        for member in plan.of_type("gcp:projects/iAMMember:IAMMember")
        if member.inputs["role"] == "roles/monitoring.metricWriter"
    }
    assert may_write == {accounts[service] for service in writers}
