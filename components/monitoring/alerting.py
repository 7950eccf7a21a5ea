"""Alerting, one concern of the stack's Monitoring: notification channels, the log-based and token metrics,
uptime checks and the alert policies on services, functions and data stores (docs/design.md §2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp
import pulumiverse_time

from components._base import GridComponent
from gridlib.labels import SERVICE_LABEL

if TYPE_CHECKING:
    from components.monitoring.component import MonitoringArgs

mon = gcp.monitoring

RUN_REQUESTS = "run.googleapis.com/request_count"
RUN_LATENCIES = "run.googleapis.com/request_latencies"
SQL_CPU = "cloudsql.googleapis.com/database/cpu/utilization"
SQL_DISK = "cloudsql.googleapis.com/database/disk/utilization"
REDIS_MEMORY = "redis.googleapis.com/stats/memory/usage_ratio"
UPTIME_PASSED = "monitoring.googleapis.com/uptime_check/check_passed"
# Uptime checks: https://cloud.google.com/monitoring/uptime-checks (timeout at most 60 s, at least 3 regions).
WARM_TIMEOUT = "10s"
COLD_START_TIMEOUT = "45s"
UPTIME_ALERT_AFTER = "300s"
_CHECKER_REGIONS = {
    "us": ("USA_OREGON", "USA_IOWA", "USA_VIRGINIA"),
    "northamerica": ("USA_OREGON", "USA_IOWA", "USA_VIRGINIA"),
    "southamerica": ("SOUTH_AMERICA", "USA_VIRGINIA", "USA_IOWA"),
    "europe": ("EUROPE", "USA_VIRGINIA", "USA_IOWA"),
    "me": ("EUROPE", "ASIA_PACIFIC", "USA_VIRGINIA"),
    "africa": ("EUROPE", "SOUTH_AMERICA", "USA_VIRGINIA"),
}
_FAR_CHECKERS = ("ASIA_PACIFIC", "USA_OREGON", "USA_IOWA")  # asia-*, australia-*


def checker_regions(region: str) -> tuple[str, ...]:
    """The three uptime checker regions nearest to a Google Cloud region."""
    return _CHECKER_REGIONS.get(region.split("-", 1)[0], _FAR_CHECKERS)


@dataclass(frozen=True)
class AppMetric:
    """A custom metric the app services write (app/common/metrics.py exports them; a test keeps both in step)."""

    type: str
    kind: str
    value_type: str
    unit: str
    labels: Mapping[str, str]
    """Label key -> description."""
    display_name: str
    description: str
    child: str
    """Child name suffix of its descriptor (URNs are state: ``ai-tokens`` predates the others)."""


APP_METRIC_PREFIX = "custom.googleapis.com/grid"
# Custom metrics cannot be written against cloud_run_revision; the app's exporter (app/common/monitoring_api.py) writes
# a Cloud Run instance's as generic_task (job = service, namespace = revision, task_id = instance, location = region):
# https://cloud.google.com/monitoring/custom-metrics/creating-metrics#custom-metric-resources
APP_RESOURCE = 'resource.type="generic_task"'
TOKEN_METRIC = f"{APP_METRIC_PREFIX}/ai/tokens"
REQUEST_LATENCY_METRIC = f"{APP_METRIC_PREFIX}/http/server/latencies"
CACHE_LOOKUPS_METRIC = f"{APP_METRIC_PREFIX}/cache/lookups"
QUEUE_DEPTH_METRIC = f"{APP_METRIC_PREFIX}/ai/embed_queue_depth"
APP_METRICS = (
    # CUMULATIVE counters and distributions: the API rejects DELTA for client-written custom metrics, and a
    # GAUGE point per event breaks the one-point-per-5s-per-series write limit. No user_id label: unbounded
    # cardinality, and a per-user series would be personal data in Monitoring.
    AppMetric(
        TOKEN_METRIC,
        "CUMULATIVE",
        "INT64",
        "1",
        {"model": "Model name", "kind": "prompt or completion"},
        "AI tokens",
        "Tokens consumed by the ai service's completion calls, by model and prompt/completion.",
        "ai-tokens",
    ),
    AppMetric(
        REQUEST_LATENCY_METRIC,
        "CUMULATIVE",
        "DISTRIBUTION",
        "ms",
        {
            "route": "Route template",
            "method": "HTTP method",
            "response_code_class": "2xx, 3xx, 4xx or 5xx",
        },
        "Request latency by route",
        "Server-side request latency of the app services by route template.",
        "app-request-latency",
    ),
    AppMetric(
        CACHE_LOOKUPS_METRIC,
        "CUMULATIVE",
        "INT64",
        "1",
        {"cache": "Cache namespace", "result": "l1, l2 or miss"},
        "Cache lookups",
        "Two-layer cache lookups by cache and result; hit ratio = (l1 + l2) / all.",
        "app-cache-lookups",
    ),
    AppMetric(
        QUEUE_DEPTH_METRIC,
        "GAUGE",
        "INT64",
        "1",
        {},
        "AI embedding queue depth",
        "Embedding requests waiting for the model on one ai instance.",
        "app-embed-queue-depth",
    ),
)
ERROR_LOG_FILTER = 'severity>=ERROR AND resource.type="cloud_run_revision"'
# Burn rate at which one hour consumes ~2% of a 28-day error budget (the SRE workbook's fast-burn page).
FAST_BURN_RATE = 14.4
ALIGN = "300s"
# Monitoring rejects an alert policy or chart on a log-based metric it does not know yet ("Cannot find
# metric(s) ... If a metric was created recently, it could take up to 10 minutes to become available"), and
# the provider does not retry it (hashicorp/terraform-provider-google#11102, open). A dependency on the metric
# only orders the calls; what reads the metric waits this long after the metric is (re)created.
LOG_METRIC_PROPAGATION = "600s"

# --- filters and conditions ---------------------------------------------------------------------------------


def _all(*clauses: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(*clauses).apply(lambda parts: " AND ".join(parts))


def _label(key: str, value: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(key, '="', value, '"')


def _one_of(key: str, values: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    """``key=one_of("a","b")``: one condition watches every listed series (and still fires per series)."""
    return pulumi.Output.all(*values).apply(lambda vs: f"{key}=one_of({','.join(json.dumps(v) for v in vs)})")


def _run_filter(
    metric: str, services: pulumi.Input[str] | Sequence[pulumi.Input[str]], *extra: str
) -> pulumi.Output[str]:
    """Cloud Run metric filter for one service (exact match, as SLOs need) or several (one_of)."""
    key = "resource.label.service_name"
    scope = _one_of(key, services) if isinstance(services, (list, tuple)) else _label(key, services)
    return _all('resource.type="cloud_run_revision"', f'metric.type="{metric}"', scope, *extra)


def _aggregation(
    aligner: str, reducer: str | None = None, group_by: Sequence[str] = (), period: str = ALIGN
) -> mon.AlertPolicyConditionConditionThresholdAggregationArgs:
    return mon.AlertPolicyConditionConditionThresholdAggregationArgs(
        alignment_period=period,
        per_series_aligner=aligner,
        cross_series_reducer=reducer,
        group_by_fields=list(group_by) or None,
    )


def _condition(
    display_name: str,
    filter_: pulumi.Input[str],
    threshold: float,
    *,
    aggregations: Sequence[mon.AlertPolicyConditionConditionThresholdAggregationArgs] = (),
    duration: str = ALIGN,
    **extra: Any,
) -> mon.AlertPolicyConditionArgs:
    return mon.AlertPolicyConditionArgs(
        display_name=display_name,
        condition_threshold=mon.AlertPolicyConditionConditionThresholdArgs(
            filter=filter_,
            comparison="COMPARISON_GT",
            threshold_value=threshold,
            duration=duration,
            aggregations=list(aggregations) or None,
            trigger=mon.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
            **extra,
        ),
    )


def _docs(subject: str, meaning: str, actions: Sequence[str]) -> mon.AlertPolicyDocumentationArgs:
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(actions, 1))
    return mon.AlertPolicyDocumentationArgs(
        subject=subject,
        mime_type="text/markdown",
        content=f"## What it means\n\n{meaning}\n\n## What to do\n\n{steps}\n",
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- the alerting part of the component ---------------------------------------------------------------------


class Alerting(GridComponent):
    """Channels, metrics, uptime checks and alert policies of a Monitoring component (its base class)."""

    _args: MonitoringArgs
    _labels: dict[str, str]
    alert_policy_names: dict[str, pulumi.Output[str]]

    # --- channels ---

    def _channel(self, suffix: str, kind: str, display: str, **kwargs: Any) -> pulumi.Output[str]:
        channel = mon.NotificationChannel(
            self.child_name(f"channel-{suffix}"),
            project=self._args.project,
            type=kind,
            display_name=f"{self._args.display_prefix} {display}",
            user_labels=self._labels,
            opts=self.child_opts(),
            **kwargs,
        )
        return channel.name

    def _channels(self, args: MonitoringArgs) -> None:
        self.email_channel_ids = [
            self._channel(f"email-{_slug(email)}", "email", email, labels={"email_address": email})
            for email in args.config.alert_emails
        ]
        chat: list[pulumi.Output[str]] = []
        if args.slack_auth_token is not None:
            chat.append(
                self._channel(
                    "slack",
                    "slack",
                    f"Slack {args.slack_channel}",
                    labels={"channel_name": args.slack_channel},
                    sensitive_labels=mon.NotificationChannelSensitiveLabelsArgs(
                        auth_token=pulumi.Output.secret(args.slack_auth_token)
                    ),
                )
            )
        self.paging_channel_id = None
        if args.config.paging and args.pagerduty_routing_key is not None:
            self.paging_channel_id = self._channel(
                "pagerduty",
                "pagerduty",
                "PagerDuty",
                sensitive_labels=mon.NotificationChannelSensitiveLabelsArgs(
                    service_key=pulumi.Output.secret(args.pagerduty_routing_key)
                ),
            )
        self._notify = [*self.email_channel_ids, *chat]
        self._page = [*self._notify, *([self.paging_channel_id] if self.paging_channel_id is not None else [])]
        self.notification_channel_ids = list(self._page)

    def _policy(
        self,
        key: str,
        display: str,
        conditions: Sequence[mon.AlertPolicyConditionArgs],
        documentation: mon.AlertPolicyDocumentationArgs,
        *,
        critical: bool,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """One alert policy; only critical ones reach the paging channel."""
        policy = mon.AlertPolicy(
            self.child_name(f"alert-{key}"),
            project=self._args.project,
            display_name=f"{self._args.display_prefix} {display}",
            combiner="OR",
            conditions=list(conditions),
            documentation=documentation,
            severity="CRITICAL" if critical else "WARNING",
            notification_channels=self._page if critical else self._notify,
            alert_strategy=mon.AlertPolicyAlertStrategyArgs(auto_close="1800s"),
            user_labels={**self._labels, "severity": "critical" if critical else "warning"},
            opts=self.child_opts(depends_on=list(depends_on)),
        )
        self.alert_policy_names[key] = policy.name

    # --- metrics ---

    def _log_metric(self, args: MonitoringArgs) -> pulumi.Output[str]:
        # Counts the app's JSON log entries at ERROR or above; per service via the cloud_run_revision resource.
        self._error_metric = gcp.logging.Metric(
            self.child_name("app-errors"),
            project=args.project,
            name=f"{args.display_prefix}/app_errors",
            description="ERROR-or-worse log entries written by Grid's Cloud Run services and functions.",
            filter=ERROR_LOG_FILTER,
            metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                metric_kind="DELTA",
                value_type="INT64",
                unit="1",
                display_name=f"{args.display_prefix} app errors",
                labels=[
                    gcp.logging.MetricMetricDescriptorLabelArgs(
                        key="severity", value_type="STRING", description="ERROR, CRITICAL, ALERT or EMERGENCY"
                    )
                ],
            ),
            label_extractors={"severity": "EXTRACT(severity)"},
            opts=self.child_opts(),
        )
        # Sleeps on create only, and again whenever the metric is replaced (its name is the trigger).
        self._error_metric_ready = pulumiverse_time.Sleep(
            self.child_name("app-errors-propagation"),
            create_duration=LOG_METRIC_PROPAGATION,
            triggers={"metric": self._error_metric.name},
            opts=self.child_opts(depends_on=[self._error_metric]),
        )
        return self._error_metric.name

    def _app_metrics(self, args: MonitoringArgs) -> None:
        # Declared here, not only by the exporter's first write: charts of an unknown metric type are refused.
        self._app_descriptors = [
            mon.MetricDescriptor(
                self.child_name(metric.child),
                project=args.project,
                type=metric.type,
                metric_kind=metric.kind,
                value_type=metric.value_type,
                unit=metric.unit,
                display_name=metric.display_name,
                description=metric.description,
                labels=[
                    mon.MetricDescriptorLabelArgs(key=key, value_type="STRING", description=text)
                    for key, text in metric.labels.items()
                ]
                or None,
                opts=self.child_opts(),
            )
            for metric in APP_METRICS
        ]

    # --- uptime ---

    def _uptime(self, args: MonitoringArgs) -> None:
        cfg = args.config
        self.uptime_check_ids = {}
        # An uptime result arrives per checker region per period; look back far enough to see several.
        period = max(1200, 2 * cfg.uptime_period_seconds)
        for endpoint, host, path in args.endpoints:
            check = mon.UptimeCheckConfig(
                self.child_name(f"uptime-{endpoint}"),
                project=args.project,
                display_name=f"{args.display_prefix} {endpoint} {path}",
                period=f"{cfg.uptime_period_seconds}s",
                # A scale-to-zero service answers its first request after a cold start; don't call that down.
                timeout=COLD_START_TIMEOUT if endpoint in args.scale_to_zero else WARM_TIMEOUT,
                checker_type="STATIC_IP_CHECKERS",
                # Three checker regions (the minimum), not all six: each check is a request to the service.
                selected_regions=list(checker_regions(args.region)),
                http_check=mon.UptimeCheckConfigHttpCheckArgs(
                    path=path, port=443, use_ssl=True, validate_ssl=True, request_method="GET"
                ),
                monitored_resource=mon.UptimeCheckConfigMonitoredResourceArgs(
                    type="uptime_url", labels={"project_id": args.project, "host": host}
                ),
                content_matchers=[
                    mon.UptimeCheckConfigContentMatcherArgs(content=args.uptime_content, matcher="CONTAINS_STRING")
                ]
                if args.uptime_content
                else None,
                user_labels={**self._labels, SERVICE_LABEL: endpoint},
                opts=self.child_opts(),
            )
            self.uptime_check_ids[endpoint] = check.uptime_check_id
        if self.uptime_check_ids:
            # One condition over every check, grouped by check: each failing route alerts on its own.
            condition = _condition(
                "a health endpoint is failing",
                _all(
                    f'metric.type="{UPTIME_PASSED}"',
                    'resource.type="uptime_url"',
                    _one_of("metric.label.check_id", list(self.uptime_check_ids.values())),
                ),
                1,
                aggregations=[
                    _aggregation(
                        "ALIGN_NEXT_OLDER",
                        "REDUCE_COUNT_FALSE",
                        ["metric.label.check_id", "resource.label.host"],
                        f"{period}s",
                    )
                ],
                # Page only on a failure that lasts, not on one slow response (a cold start, a deploy).
                duration=UPTIME_ALERT_AFTER,
            )
            self._policy(
                "uptime",
                "health check failing",
                [condition],
                _docs(
                    "Grid health endpoint unreachable",
                    "More than one checker region could not get a healthy response from a public `/health` "
                    "endpoint. Users of that route are probably seeing errors too.",
                    [
                        "Open the uptime check in Cloud Monitoring to see which regions fail and the response.",
                        "Check the load balancer / gateway and the certificate (SSL validation is on).",
                        "Check the service's latest revision in Cloud Run; roll back if it was just deployed.",
                    ],
                ),
                critical=True,
            )

    # --- services and functions ---

    def _service_alerts(self, args: MonitoringArgs) -> None:
        cfg = args.config
        by_service = ["resource.label.service_name"]
        # One condition per kind over every service, grouped by service: each service still alerts on its own,
        # and the stack pays for one alerting condition instead of one per service.
        services = [service for _, service in sorted(args.run_services.items())]
        listed = ", ".join(f"`{w}`" for w in sorted(args.run_services))
        if services:
            self._policy(
                "5xx",
                "5xx ratio",
                [
                    _condition(
                        f"5xx ratio above {cfg.error_ratio:.1%}",
                        _run_filter(RUN_REQUESTS, services, 'metric.label.response_code_class="5xx"'),
                        cfg.error_ratio,
                        # Both sides aligned and summed the same way, so it compares 5xx/all per service.
                        aggregations=[_aggregation("ALIGN_RATE", "REDUCE_SUM", by_service)],
                        denominator_filter=_run_filter(RUN_REQUESTS, services),
                        denominator_aggregations=[
                            mon.AlertPolicyConditionConditionThresholdDenominatorAggregationArgs(
                                alignment_period=ALIGN,
                                per_series_aligner="ALIGN_RATE",
                                cross_series_reducer="REDUCE_SUM",
                                group_by_fields=by_service,
                            )
                        ],
                        # No traffic is not an outage; the uptime checks cover "down".
                        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
                    )
                ],
                _docs(
                    "Grid: too many 5xx responses",
                    f"More than {cfg.error_ratio:.1%} of requests to one of the services ({listed}) answered 5xx "
                    "over five minutes; the incident names the service.",
                    [
                        "Open Logs Explorer for that Cloud Run service at severity ERROR; the app logs carry a "
                        "request id per failure.",
                        "If it started with a deploy, route traffic back to the previous revision.",
                        "If the database or Redis is the cause (timeouts, connection errors), check their alerts.",
                    ],
                ),
                critical=True,
            )
        if services and cfg.latency_alerts:
            self._policy(
                "latency",
                "p95 latency",
                [
                    _condition(
                        f"p95 latency above {cfg.latency_p95_ms} ms",
                        _run_filter(RUN_LATENCIES, services),
                        cfg.latency_p95_ms,
                        aggregations=[_aggregation("ALIGN_PERCENTILE_95", "REDUCE_MAX", by_service)],
                        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
                    )
                ],
                _docs(
                    f"Grid: p95 latency above {cfg.latency_p95_ms} ms",
                    f"The slowest 5% of requests to one of the services ({listed}) took longer than "
                    f"{cfg.latency_p95_ms} ms for five minutes; the incident names the service.",
                    [
                        "Compare with instance count and CPU in Cloud Run metrics: at max instances, raise it.",
                        "Check Cloud SQL CPU and Query Insights for slow queries.",
                        "Look for cold starts (min instances 0) or a slow downstream (AI provider) in traces.",
                    ],
                ),
                critical=False,
            )
        functions = [service for _, service in sorted(args.functions.items())]
        if functions:
            error_metric = f"logging.googleapis.com/user/{args.display_prefix}/app_errors"
            self._policy(
                "function-errors",
                "function errors",
                [
                    _condition(
                        f"function error logs above {args.function_error_threshold} per 5 min",
                        _all(
                            f'metric.type="{error_metric}"',
                            'resource.type="cloud_run_revision"',
                            _one_of("resource.label.service_name", functions),
                        ),
                        args.function_error_threshold,
                        aggregations=[_aggregation("ALIGN_DELTA", "REDUCE_SUM", by_service)],
                        duration="0s",
                        evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
                    )
                ],
                _docs(
                    "Grid function errors",
                    f"A function ({', '.join(f'`{f}`' for f in sorted(args.functions))}; gen2, running on "
                    f"Cloud Run) logged more than {args.function_error_threshold} ERROR entries in five minutes.",
                    [
                        "Open Logs Explorer for the named function's service at severity ERROR.",
                        "If it is fed by Pub/Sub, failed messages are retried and then dead-lettered: inspect "
                        "the dead-letter subscription before replaying.",
                        "Roll back the function if the errors started with a deploy.",
                    ],
                ),
                critical=False,
                # A policy on a log-based metric fails to create until Monitoring knows the metric.
                depends_on=[self._error_metric, self._error_metric_ready],
            )

    # --- data stores ---

    def _data_alerts(self, args: MonitoringArgs) -> None:
        cfg = args.config

        def sql_conditions(metric: str, what: str, threshold: float, duration: str) -> list[Any]:
            return [
                _condition(
                    f"{what} above {threshold:.0%} on database {index}",
                    _all(
                        'resource.type="cloudsql_database"',
                        f'metric.type="{metric}"',
                        _label("resource.label.database_id", database_id),
                    ),
                    threshold,
                    aggregations=[_aggregation("ALIGN_MEAN")],
                    duration=duration,
                )
                for index, database_id in enumerate(args.sql_database_ids)
            ]

        if args.sql_database_ids:
            self._policy(
                "sql-cpu",
                "Cloud SQL CPU",
                sql_conditions(SQL_CPU, "CPU", cfg.sql_cpu_utilization, "600s"),
                _docs(
                    "Grid Cloud SQL: CPU high",
                    f"Cloud SQL CPU utilization stayed above {cfg.sql_cpu_utilization:.0%} for ten minutes; "
                    "queries will queue and API latency rise.",
                    [
                        "Open Query Insights for the instance and find the top queries by load.",
                        "Add the missing index or fix the query; check connection count against max_connections.",
                        "If load is legitimate, move to a larger tier (grid:database.tier).",
                    ],
                ),
                critical=False,
            )
            self._policy(
                "sql-disk",
                "Cloud SQL disk",
                sql_conditions(SQL_DISK, "disk", cfg.sql_disk_utilization, ALIGN),
                _docs(
                    "Grid Cloud SQL: disk filling up",
                    f"Cloud SQL disk utilization is above {cfg.sql_disk_utilization:.0%}. A full disk stops "
                    "writes and can take the instance offline.",
                    [
                        "Check whether autoresize is on and below its limit (grid:database.diskAutoresizeLimitGb).",
                        "Look for table bloat or runaway growth (pg_stat_user_tables, temp files).",
                        "Raise grid:database.diskSizeGb; disks can grow but never shrink.",
                    ],
                ),
                critical=True,
            )
        if args.redis_instance_id is not None:
            self._policy(
                "redis-memory",
                "Redis memory",
                [
                    _condition(
                        f"Redis memory usage above {cfg.redis_memory_usage:.0%}",
                        _all(
                            'resource.type="redis_instance"',
                            f'metric.type="{REDIS_MEMORY}"',
                            _label("resource.label.instance_id", args.redis_instance_id),
                        ),
                        cfg.redis_memory_usage,
                        aggregations=[_aggregation("ALIGN_MEAN")],
                    )
                ],
                _docs(
                    "Grid Redis: memory nearly full",
                    f"Memorystore memory usage is above {cfg.redis_memory_usage:.0%} of capacity; evictions "
                    "follow, and cache hit rate and rate limiting suffer.",
                    [
                        "Check evicted_keys and the key count in Memorystore metrics.",
                        "Look for keys written without a TTL.",
                        "Raise grid:cache.memorySizeGb if the working set really grew.",
                    ],
                ),
                critical=False,
            )
