"""Cloud Monitoring for one stack: channels, uptime checks, alert policies, dashboard, metrics, SLO and budget.

What gets built follows ``grid:monitoring`` (docs/design.md §2): every environment has uptime checks, error alerts and a
budget; staging adds latency alerts; prod adds the paging channel, dashboards and SLOs. The concerns live in their
own modules (alerting, dashboards, billing); this one component composes them, so every resource keeps the parent
(and URN) it had when they were one module.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pydantic import Field, field_validator

from components.monitoring.alerting import TOKEN_METRIC
from components.monitoring.billing import Billing, BudgetConfig
from components.monitoring.dashboards import Dashboards
from gridlib.config_base import ConfigModel

# --- config: the typed, validated input of this component (grid:monitoring in a stack file) ---

# What the services accept for METRICS_EXPORT_INTERVAL_SECONDS (app/common/settings.py; a test keeps them equal):
# 10 s or more, as Google's exporter asked (Monitoring takes a point per series every 5 s at most).
METRICS_EXPORT_INTERVAL_BOUNDS = (10, 3600)


class MonitoringConfig(ConfigModel):
    alert_emails: list[str] = Field(default_factory=list, description="Always notified.")
    slack_channel: str = Field("#alerts", description="Channel the Slack notification channel posts to.")
    latency_p95_ms: int = Field(1000, ge=50, le=60000)
    error_ratio: float = Field(0.02, gt=0, lt=1, description="5xx share of requests that alerts.")
    sql_cpu_utilization: float = Field(0.8, gt=0, le=1)
    sql_disk_utilization: float = Field(0.85, gt=0, le=1)
    redis_memory_usage: float = Field(0.8, gt=0, le=1)
    uptime_period_seconds: Literal[60, 300, 600, 900] = 300
    metrics_export_interval_seconds: int = Field(
        60,
        ge=METRICS_EXPORT_INTERVAL_BOUNDS[0],
        le=METRICS_EXPORT_INTERVAL_BOUNDS[1],
        description="How often every instance of a service exports the app metrics (METRICS_EXPORT_INTERVAL_SECONDS): "
        "each export is a point per time series, and Cloud Monitoring bills those by bytes past 150 MiB a month, so a "
        "longer interval trades chart resolution for cost (docs/app-services.md).",
    )
    latency_alerts: bool = True
    data_alerts: bool = Field(True, description="Cloud SQL CPU/disk and Redis memory alerts.")
    paging: bool = False
    dashboards: bool = True
    slos: bool = False
    budget: BudgetConfig = BudgetConfig()

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", email):
                raise ValueError(f"'{email}' is not an email address")
        return value


Endpoint = tuple[str, pulumi.Input[str], str]
"""(name, host, path) of one public health endpoint, e.g. ``("api", "api.example.com", "/health")``."""


@dataclass
class MonitoringArgs:
    config: MonitoringConfig
    """Thresholds, emails, paging/dashboard/SLO switches and the budget from ``grid:monitoring``."""
    project: str
    project_number: pulumi.Input[str]
    """Numeric project number: budgets filter on ``projects/<number>``."""
    environment: str
    display_prefix: str
    """Prefix of display names and of the log-based metric (``grid-prod``)."""
    endpoints: Sequence[Endpoint] = ()
    """Public health endpoints to uptime-check over HTTPS; empty when nothing is public (then no checks).
    Leave out services that scale to zero on a GPU: every check is a request that keeps an instance billed."""
    scale_to_zero: Collection[str] = ()
    """Endpoints whose service scales to zero: their checks allow for a cold start."""
    region: str = "us-central1"
    """The stack's region: uptime checks run from the three checker regions nearest to it."""
    run_services: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload -> Cloud Run service name (``resource.label.service_name``); each gets 5xx and latency alerts."""
    functions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Function -> the Cloud Run service gen2 runs it on (same name as the function); each gets an error alert."""
    sql_database_ids: Sequence[pulumi.Input[str]] = ()
    """Cloud SQL ``project:instance`` IDs, the ``database_id`` label of ``cloudsql_database`` metrics."""
    redis_instance_id: pulumi.Input[str] | None = None
    """Full Memorystore ID ``projects/<p>/locations/<r>/instances/<name>``; None: no Redis alert."""
    slack_auth_token: pulumi.Input[str] | None = None
    """Slack app OAuth token (``xoxb-...``) for Monitoring's Slack channel type; kept in sensitive labels."""
    slack_channel: str = "#alerts"
    """Slack channel the token posts to."""
    pagerduty_routing_key: pulumi.Input[str] | None = None
    """PagerDuty Events v2 routing key; required when ``config.paging``. Kept in sensitive labels."""
    budget_topic_id: pulumi.Input[str] | None = None
    """Pub/Sub topic (``projects/<p>/topics/<t>``) that receives every budget update, for automated cost caps."""
    uptime_content: str | None = None
    """Text the health response must contain; None checks the status code only."""
    function_error_threshold: int = 5
    """ERROR log entries per function per 5 minutes that alert."""
    slo_service: str = "api"
    """Key of ``run_services`` whose request availability the SLO covers."""
    slo_goal: float = 0.995
    slo_rolling_days: int = 28
    labels: Mapping[str, str] = field(default_factory=dict)
    """User labels on policies, channels and checks."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done).
        if self.config.paging and self.pagerduty_routing_key is None:
            raise ValueError(
                "Monitoring: config.paging is on but no pagerduty_routing_key was given: pass the PagerDuty "
                "Events v2 routing key or turn paging off"
            )
        if self.config.slos and self.slo_service not in self.run_services:
            raise ValueError(
                f"Monitoring: SLO service '{self.slo_service}' is not among run_services "
                f"({', '.join(sorted(self.run_services))}): set slo_service to one of them or turn slos off"
            )


# --- the component ------------------------------------------------------------------------------------------


class Monitoring(Dashboards, Billing):
    """Everything that tells the team a stack is unwell or over budget, and who gets told."""

    _module = "monitoring"

    notification_channel_ids: list[pulumi.Output[str]]
    """Every channel this component created (email, Slack, PagerDuty)."""
    email_channel_ids: list[pulumi.Output[str]]
    paging_channel_id: pulumi.Output[str] | None
    alert_policy_names: dict[str, pulumi.Output[str]]
    """Policy key (``5xx-api``, ``sql-disk``, ``uptime``...) -> ``projects/<p>/alertPolicies/<id>``."""
    uptime_check_ids: dict[str, pulumi.Output[str]]
    dashboard_id: pulumi.Output[str] | None
    log_metric_name: pulumi.Output[str]
    token_metric_type: str
    slo_name: pulumi.Output[str] | None
    budget_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        self._args = args
        self._labels = {"environment": args.environment, **args.labels}
        self.alert_policy_names = {}

        self._channels(args)
        self.log_metric_name = self._log_metric(args)
        self._app_metrics(args)
        self.token_metric_type = TOKEN_METRIC
        self._uptime(args)
        self._service_alerts(args)
        if args.config.data_alerts:
            self._data_alerts(args)
        self.slo_name = self._slo(args) if cfg.slos else None
        self.dashboard_id = self._dashboard(args) if cfg.dashboards else None
        self.budget_id = self._budget(args) if cfg.budget.billing_account else None
        self.register_outputs(
            {
                "notification_channel_ids": self.notification_channel_ids,
                "alert_policy_names": self.alert_policy_names,
                "uptime_check_ids": self.uptime_check_ids,
                "dashboard_id": self.dashboard_id,
                "log_metric_name": self.log_metric_name,
                "slo_name": self.slo_name,
                "budget_id": self.budget_id,
            }
        )
