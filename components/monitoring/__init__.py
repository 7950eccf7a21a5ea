"""Monitoring of one stack, by concern: alerting, dashboards and SLOs, billing (budget and cost cap)."""

from components.monitoring.alerting import TOKEN_METRIC
from components.monitoring.billing import BudgetConfig
from components.monitoring.component import Endpoint, Monitoring, MonitoringArgs, MonitoringConfig
from components.monitoring.cost_cap import CostCap, CostCapArgs

__all__ = [
    "TOKEN_METRIC",
    "BudgetConfig",
    "CostCap",
    "CostCapArgs",
    "Endpoint",
    "Monitoring",
    "MonitoringArgs",
    "MonitoringConfig",
]
