"""Billing, one concern of the stack's Monitoring: the monthly budget and its alerts (the cost cap that
stops the services at the budget is components/monitoring/cost_cap.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, field_validator

from components._base import GridComponent
from gridlib.config_base import ConfigModel
from gridlib.gcp_types import BillingAccount

if TYPE_CHECKING:
    from components.monitoring.component import MonitoringArgs

# --- config: the typed, validated input of the budget (grid:monitoring.budget in a stack file) ---


class BudgetConfig(ConfigModel):
    billing_account: BillingAccount | None = Field(
        None, description="Billing account ID XXXXXX-XXXXXX-XXXXXX; null: no budget."
    )
    monthly_usd: float = Field(15, gt=0)
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.9, 1.0])
    cap_at_budget: bool = Field(
        False,
        description="Stop every Cloud Run service of the stack when actual spend reaches the budget "
        "(needs billingAccount).",
    )

    @property
    def caps_spend(self) -> bool:
        """The stack stops its services at the budget: asked for, and there is a budget to trigger it."""
        return self.cap_at_budget and self.billing_account is not None

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < t <= 5 for t in value):
            raise ValueError("thresholds must be fractions of the budget between 0 and 5, e.g. [0.5, 0.9, 1.0]")
        return sorted(value)


# Budgets only notify Monitoring *email* channels, at most five of them.
BUDGET_MAX_CHANNELS = 5


class Billing(GridComponent):
    """The budget of a Monitoring component; it mails the component's email channels."""

    _args: MonitoringArgs
    email_channel_ids: list[pulumi.Output[str]]

    # --- budget ---

    def _budget(self, args: MonitoringArgs) -> pulumi.Output[str]:
        budget = args.config.budget
        if len(self.email_channel_ids) > BUDGET_MAX_CHANNELS:
            pulumi.log.warn(
                f"{self._name}: budgets notify at most {BUDGET_MAX_CHANNELS} email channels; "
                f"the first {BUDGET_MAX_CHANNELS} of grid:monitoring.alertEmails get budget mail",
                resource=self,
            )
        units, fraction = divmod(budget.monthly_usd, 1)
        # The Budget API bills every call to a quota project. Without one the provider sends the caller's own:
        # for user credentials none at all (refused), for a deployer account its home project, where
        # billingbudgets.googleapis.com is not enabled (403 SERVICE_DISABLED; terraform-example-foundation#353,
        # terraform-google-project-factory#696). This stack's project has the API enabled (stacks/program.py),
        # and the deployer may use it (serviceusage admin there), so budgets are called with it as quota project.
        billing = gcp.Provider(
            self.child_name("billing"),
            project=args.project,
            billing_project=args.project,
            user_project_override=True,
            opts=self.child_opts(),
        )
        resource = gcp.billing.Budget(
            self.child_name("budget"),
            billing_account=budget.billing_account,
            display_name=f"{args.display_prefix} monthly"[:60],
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code="USD", units=str(int(units)), nanos=round(fraction * 1e9)
                )
            ),
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[pulumi.Output.concat("projects/", args.project_number)],
                calendar_period="MONTH",
                credit_types_treatment="INCLUDE_ALL_CREDITS",
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(threshold_percent=t, spend_basis="CURRENT_SPEND")
                for t in budget.thresholds
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                monitoring_notification_channels=self.email_channel_ids[:BUDGET_MAX_CHANNELS],
                pubsub_topic=args.budget_topic_id,
                # Required whenever a topic is set; "1.0" is the only schema.
                schema_version="1.0" if args.budget_topic_id is not None else None,
                disable_default_iam_recipients=False,
            ),
            opts=self.child_opts(provider=billing),
        )
        return resource.id
