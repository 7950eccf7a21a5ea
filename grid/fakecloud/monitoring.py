"""Cloud Monitoring: notification channels, alert policies, uptime checks, dashboards, metric descriptors,
custom services and SLOs. Shapes follow the API (full resource names, numeric channel and policy IDs)."""

from __future__ import annotations

from collections.abc import Callable

from grid.fakecloud.core import Cloud, Outputs, State


def numeric(cloud: Cloud, logical: str, digits: int = 19) -> str:
    """A numeric ID like the ones Monitoring assigns (channels, policies, conditions)."""
    return str(int(cloud.digest(logical, 16), 16))[:digits].rjust(digits, "1")


def _numbered(collection: str) -> Outputs:
    def outputs(cloud: Cloud, logical: str, _state: State) -> State:
        name = f"projects/{cloud.project}/{collection}/{numeric(cloud, logical)}"
        return {"__id": name, "name": name}

    return outputs


def _alert_policy(cloud: Cloud, logical: str, state: State) -> State:
    name = f"projects/{cloud.project}/alertPolicies/{numeric(cloud, logical)}"
    conditions = [
        {**condition, "name": f"{name}/conditions/{numeric(cloud, f'{logical}/{index}')}"}
        for index, condition in enumerate(state.get("conditions") or [])
    ]
    return {
        "__id": name,
        "name": name,
        "conditions": conditions,
        "creationRecords": [{"mutateTime": "2025-01-01T00:00:00Z", "mutatedBy": "offline"}],
    }


def _uptime_check(cloud: Cloud, logical: str, state: State) -> State:
    slug = "".join(c if c.isalnum() else "-" for c in str(state.get("displayName", logical)).lower()).strip("-")
    check_id = f"{slug}-{cloud.digest(logical, 11)}"
    name = f"projects/{cloud.project}/uptimeCheckConfigs/{check_id}"
    return {"__id": name, "name": name, "uptimeCheckId": check_id}


def _dashboard(cloud: Cloud, logical: str, _state: State) -> State:
    return {"__id": f"projects/{cloud.project_number}/dashboards/{cloud.uuid(logical)}"}


def _metric_descriptor(cloud: Cloud, _logical: str, state: State) -> State:
    name = f"projects/{cloud.project}/metricDescriptors/{state['type']}"
    return {"__id": name, "name": name, "monitoredResourceTypes": ["global", "generic_task", "generic_node"]}


def _service_monitoring(id_key: str, path: Callable[[State, str], str]) -> Outputs:
    """Custom services and SLOs: the ID is ``projects/<id>/...``, the API's ``name`` uses the project number."""

    def outputs(cloud: Cloud, logical: str, state: State) -> State:
        ident = str(state.get(id_key) or cloud.digest(logical, 22))
        tail = path(state, ident)
        return {
            "__id": f"projects/{cloud.project}/{tail}",
            id_key: ident,
            "name": f"projects/{cloud.project_number}/{tail}",
        }

    return outputs


OUTPUTS: dict[str, Outputs] = {
    "gcp:monitoring/notificationChannel:NotificationChannel": _numbered("notificationChannels"),
    "gcp:monitoring/alertPolicy:AlertPolicy": _alert_policy,
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": _uptime_check,
    "gcp:monitoring/dashboard:Dashboard": _dashboard,
    "gcp:monitoring/metricDescriptor:MetricDescriptor": _metric_descriptor,
    "gcp:monitoring/customService:CustomService": _service_monitoring(
        "serviceId", lambda _state, ident: f"services/{ident}"
    ),
    "gcp:monitoring/slo:Slo": _service_monitoring(
        "sloId", lambda state, ident: f"services/{state.get('service')}/serviceLevelObjectives/{ident}"
    ),
}
AUTONAMED: frozenset[str] = frozenset()
