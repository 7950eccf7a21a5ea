"""Dashboards and SLOs, one concern of the stack's Monitoring: the overview dashboard and the request
availability SLO with its fast-burn alert.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from components.monitoring.alerting import (
    APP_RESOURCE,
    CACHE_LOOKUPS_METRIC,
    FAST_BURN_RATE,
    QUEUE_DEPTH_METRIC,
    REDIS_MEMORY,
    REQUEST_LATENCY_METRIC,
    RUN_LATENCIES,
    RUN_REQUESTS,
    SQL_CPU,
    TOKEN_METRIC,
    Alerting,
    _condition,
    _docs,
    _run_filter,
)

if TYPE_CHECKING:
    from components.monitoring.component import MonitoringArgs

mon = gcp.monitoring


class Dashboards(Alerting):
    """The dashboard and SLO of a Monitoring component; they read the metrics and alert through Alerting."""

    # --- SLO ---

    def _slo(self, args: MonitoringArgs) -> pulumi.Output[str]:
        service_name = args.run_services[args.slo_service]
        custom = mon.CustomService(
            self.child_name(f"service-{args.slo_service}"),
            project=args.project,
            service_id=f"{args.display_prefix}-{args.slo_service}",
            display_name=f"{args.display_prefix} {args.slo_service}",
            user_labels=self._labels,
            opts=self.child_opts(),
        )
        total = _run_filter(RUN_REQUESTS, service_name)
        slo = mon.Slo(
            self.child_name(f"slo-{args.slo_service}-availability"),
            project=args.project,
            service=custom.service_id,
            slo_id="availability",
            display_name=f"{args.slo_service} availability {args.slo_goal:.1%} over {args.slo_rolling_days} days",
            goal=args.slo_goal,
            rolling_period_days=args.slo_rolling_days,
            request_based_sli=mon.SloRequestBasedSliArgs(
                good_total_ratio=mon.SloRequestBasedSliGoodTotalRatioArgs(
                    # Client errors are the client's; only 5xx spends the error budget.
                    good_service_filter=_run_filter(
                        RUN_REQUESTS, service_name, 'metric.label.response_code_class=one_of("2xx","3xx","4xx")'
                    ),
                    total_service_filter=total,
                )
            ),
            user_labels=self._labels,
            opts=self.child_opts(),
        )
        self._policy(
            f"slo-burn-{args.slo_service}",
            f"{args.slo_service} error budget burn",
            [
                _condition(
                    f"burn rate above {FAST_BURN_RATE} over 1 h",
                    pulumi.Output.concat('select_slo_burn_rate("', slo.name, '", "3600s")'),
                    FAST_BURN_RATE,
                    duration="0s",
                )
            ],
            _docs(
                f"Grid {args.slo_service}: error budget burning fast",
                f"At the last hour's error rate the {args.slo_goal:.1%} availability objective's "
                f"{args.slo_rolling_days}-day budget is gone in about two days.",
                [
                    "Treat as an incident: check the 5xx alert and the latest deploy.",
                    "Open the SLO in Cloud Monitoring > Services to see the remaining budget.",
                ],
            ),
            critical=True,
        )
        return slo.name

    # --- dashboard ---

    def _dashboard(self, args: MonitoringArgs) -> pulumi.Output[str]:
        # The app's own metrics arrive once per export interval per series: a window shorter than that would chart
        # gaps between points, so their charts align over the interval (never under Monitoring's 60 s minimum).
        app_window = f"{max(60, args.config.metrics_export_interval_seconds)}s"

        def chart(
            title: str, filter_: str, aligner: str, reducer: str, group_by: list[str], window: str = "60s"
        ) -> dict[str, Any]:
            query = {
                "timeSeriesFilter": {
                    "filter": filter_,
                    "aggregation": {
                        "alignmentPeriod": window,
                        "perSeriesAligner": aligner,
                        "crossSeriesReducer": reducer,
                        "groupByFields": group_by,
                    },
                }
            }
            return {"title": title, "xyChart": {"dataSets": [{"timeSeriesQuery": query, "plotType": "LINE"}]}}

        run = 'resource.type="cloud_run_revision"'
        by_service = ["resource.label.service_name"]
        cache_rate = {
            "alignmentPeriod": app_window,
            "perSeriesAligner": "ALIGN_RATE",
            "crossSeriesReducer": "REDUCE_SUM",
            "groupByFields": ["metric.label.cache"],
        }
        widgets = [
            chart(
                "Requests/s by service",
                f'{run} AND metric.type="{RUN_REQUESTS}"',
                "ALIGN_RATE",
                "REDUCE_SUM",
                by_service,
            ),
            chart(
                "5xx/s by service",
                f'{run} AND metric.type="{RUN_REQUESTS}" AND metric.label.response_code_class="5xx"',
                "ALIGN_RATE",
                "REDUCE_SUM",
                by_service,
            ),
            chart(
                "p95 latency (ms) by service",
                f'{run} AND metric.type="{RUN_LATENCIES}"',
                "ALIGN_PERCENTILE_95",
                "REDUCE_MAX",
                by_service,
            ),
            chart(
                "Cloud SQL CPU utilization",
                f'resource.type="cloudsql_database" AND metric.type="{SQL_CPU}"',
                "ALIGN_MEAN",
                "REDUCE_MAX",
                ["resource.label.database_id"],
            ),
            chart(
                "AI tokens/s by model",
                f'{APP_RESOURCE} AND metric.type="{TOKEN_METRIC}"',
                "ALIGN_RATE",
                "REDUCE_SUM",
                ["metric.label.model", "metric.label.kind"],
                app_window,
            ),
            chart(
                "p95 latency (ms) by route",
                f'{APP_RESOURCE} AND metric.type="{REQUEST_LATENCY_METRIC}"',
                "ALIGN_DELTA",
                "REDUCE_PERCENTILE_95",
                ["resource.label.job", "metric.label.route"],
                app_window,
            ),
            {
                "title": "Cache hit ratio by cache",
                "xyChart": {
                    "dataSets": [
                        {
                            "timeSeriesQuery": {
                                "timeSeriesFilterRatio": {
                                    "numerator": {
                                        "filter": f'{APP_RESOURCE} AND metric.type="{CACHE_LOOKUPS_METRIC}" '
                                        'AND metric.label.result=one_of("l1","l2")',
                                        "aggregation": cache_rate,
                                    },
                                    "denominator": {
                                        "filter": f'{APP_RESOURCE} AND metric.type="{CACHE_LOOKUPS_METRIC}"',
                                        "aggregation": cache_rate,
                                    },
                                }
                            },
                            "plotType": "LINE",
                        }
                    ]
                },
            },
            chart(
                "AI embedding queue depth",
                f'{APP_RESOURCE} AND metric.type="{QUEUE_DEPTH_METRIC}"',
                "ALIGN_MAX",
                "REDUCE_SUM",
                ["resource.label.job"],
                app_window,
            ),
            chart(
                "Error log entries by service",
                f'{run} AND metric.type="logging.googleapis.com/user/{args.display_prefix}/app_errors"',
                "ALIGN_RATE",
                "REDUCE_SUM",
                by_service,
            ),
        ]
        if args.redis_instance_id is not None:
            widgets.append(
                chart(
                    "Redis memory usage ratio",
                    f'resource.type="redis_instance" AND metric.type="{REDIS_MEMORY}"',
                    "ALIGN_MEAN",
                    "REDUCE_MAX",
                    ["resource.label.instance_id"],
                )
            )
        layout = {"displayName": f"{args.display_prefix} overview", "gridLayout": {"columns": "2", "widgets": widgets}}
        dashboard = mon.Dashboard(
            self.child_name("dashboard"),
            project=args.project,
            dashboard_json=json.dumps(layout, sort_keys=True),
            # The dashboard reads the log-based metric; Monitoring rejects charts of unknown metric types.
            # Its charts also read the app metrics, which exist once their descriptors do.
            opts=self.child_opts(depends_on=[self._error_metric, self._error_metric_ready, *self._app_descriptors]),
        )
        return dashboard.id
