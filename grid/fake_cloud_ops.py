"""Fake-cloud outputs for the serving/ops resources: Pub/Sub, Scheduler, Tasks, Monitoring, Logging, Billing.

Shapes follow what the Google APIs return (full resource names, numeric channel and policy IDs, budget UUIDs);
every generated part derives from the logical name so plans stay stable between runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from grid.fake_cloud import FakeCloud, Outputs, State, known_types, register_outputs


def _numeric(cloud: FakeCloud, logical: str, digits: int = 19) -> str:
    """A numeric ID like the ones Monitoring assigns (channels, policies, conditions)."""
    return str(int(cloud.digest(logical, 16), 16))[:digits].rjust(digits, "1")


def _uuid(cloud: FakeCloud, logical: str) -> str:
    return str(uuid.UUID(cloud.digest(logical, 32)))


@register_outputs("gcp:pubsub/topic:Topic")
def _topic(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {"__id": f"projects/{cloud.project}/topics/{state['name']}"}


@register_outputs("gcp:pubsub/subscription:Subscription")
def _subscription(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {"__id": f"projects/{cloud.project}/subscriptions/{state['name']}"}


@register_outputs("gcp:projects/serviceIdentity:ServiceIdentity")
def _service_identity(cloud: FakeCloud, _logical: str, state: State) -> State:
    # Google's service agents: service-<project number>@gcp-sa-<api>.iam.gserviceaccount.com
    # (https://cloud.google.com/iam/docs/service-agents).
    email = f"service-{cloud.project_number}@gcp-sa-{str(state['service']).split('.', 1)[0]}.iam.gserviceaccount.com"
    return {
        "__id": f"projects/{cloud.project}/services/{state['service']}",
        "email": email,
        "member": f"serviceAccount:{email}",
    }


# Resource-level IAM members only compute an etag, exactly like the project-level ones.
for _iam_type in (
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
    "gcp:cloudtasks/queueIamMember:QueueIamMember",
):
    register_outputs(_iam_type)(known_types()["gcp:projects/iAMMember:IAMMember"])


@register_outputs("gcp:cloudscheduler/job:Job")
def _scheduler_job(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/locations/{cloud.location_of(state)}/jobs/{state['name']}",
        "state": "ENABLED",
    }


@register_outputs("gcp:cloudtasks/queue:Queue")
def _queue(cloud: FakeCloud, _logical: str, state: State) -> State:
    location = cloud.location_of(state)
    return {"__id": f"projects/{cloud.project}/locations/{location}/queues/{state['name']}", "state": "RUNNING"}


def _monitoring_name(collection: str) -> Outputs:
    def outputs(cloud: FakeCloud, logical: str, _state: State) -> State:
        name = f"projects/{cloud.project}/{collection}/{_numeric(cloud, logical)}"
        return {"__id": name, "name": name}

    return outputs


register_outputs("gcp:monitoring/notificationChannel:NotificationChannel")(_monitoring_name("notificationChannels"))


@register_outputs("gcp:monitoring/alertPolicy:AlertPolicy")
def _alert_policy(cloud: FakeCloud, logical: str, state: State) -> State:
    name = f"projects/{cloud.project}/alertPolicies/{_numeric(cloud, logical)}"
    conditions = [
        {**condition, "name": f"{name}/conditions/{_numeric(cloud, f'{logical}/{index}')}"}
        for index, condition in enumerate(state.get("conditions") or [])
    ]
    return {
        "__id": name,
        "name": name,
        "conditions": conditions,
        "creationRecords": [{"mutateTime": "2025-01-01T00:00:00Z", "mutatedBy": "offline"}],
    }


@register_outputs("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")
def _uptime_check(cloud: FakeCloud, logical: str, state: State) -> State:
    slug = "".join(c if c.isalnum() else "-" for c in str(state.get("displayName", logical)).lower()).strip("-")
    check_id = f"{slug}-{cloud.digest(logical, 11)}"
    name = f"projects/{cloud.project}/uptimeCheckConfigs/{check_id}"
    return {"__id": name, "name": name, "uptimeCheckId": check_id}


@register_outputs("gcp:monitoring/dashboard:Dashboard")
def _dashboard(cloud: FakeCloud, logical: str, _state: State) -> State:
    return {"__id": f"projects/{cloud.project_number}/dashboards/{_uuid(cloud, logical)}"}


@register_outputs("gcp:monitoring/metricDescriptor:MetricDescriptor")
def _metric_descriptor(cloud: FakeCloud, _logical: str, state: State) -> State:
    name = f"projects/{cloud.project}/metricDescriptors/{state['type']}"
    return {"__id": name, "name": name, "monitoredResourceTypes": ["global", "generic_task", "generic_node"]}


@register_outputs("gcp:logging/metric:Metric")
def _log_metric(cloud: FakeCloud, _logical: str, state: State) -> State:
    return {"__id": str(state["name"])}


def _service_monitoring(id_key: str, path: Callable[[State, str], str]) -> Outputs:
    """Custom services and SLOs: the ID is ``projects/<id>/...``, the API's ``name`` uses the project number."""

    def outputs(cloud: FakeCloud, logical: str, state: State) -> State:
        ident = str(state.get(id_key) or cloud.digest(logical, 22))
        tail = path(state, ident)
        return {
            "__id": f"projects/{cloud.project}/{tail}",
            id_key: ident,
            "name": f"projects/{cloud.project_number}/{tail}",
        }

    return outputs


register_outputs("gcp:monitoring/customService:CustomService")(
    _service_monitoring("serviceId", lambda _state, ident: f"services/{ident}")
)
register_outputs("gcp:monitoring/slo:Slo")(
    _service_monitoring("sloId", lambda state, ident: f"services/{state.get('service')}/serviceLevelObjectives/{ident}")
)


@register_outputs("gcp:billing/budget:Budget")
def _budget(cloud: FakeCloud, logical: str, state: State) -> State:
    name = f"billingAccounts/{state.get('billingAccount')}/budgets/{_uuid(cloud, logical)}"
    return {"__id": name, "name": name}
