"""Cloud Run: services (with their run.app URLs and revisions), jobs, and who may invoke a service."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _service(cloud: Cloud, logical: str, state: State) -> State:
    location = cloud.location_of(state)
    name = state["name"]
    return {
        "__id": f"projects/{cloud.project}/locations/{location}/services/{name}",
        "uri": f"https://{name}-{cloud.digest(logical, 10)}-uc.a.run.app",
        "urls": [f"https://{name}-{cloud.project_number}.{location}.run.app"],
        "latestReadyRevision": f"{name}-00001-{cloud.digest(logical, 3)}",
        "latestCreatedRevision": f"{name}-00001-{cloud.digest(logical, 3)}",
        "uid": cloud.digest(logical, 32),
    }


def _job(cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": f"projects/{cloud.project}/locations/{cloud.location_of(state)}/jobs/{state['name']}"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:cloudrunv2/service:Service": _service,
    "gcp:cloudrunv2/job:Job": _job,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset({"gcp:cloudrunv2/service:Service", "gcp:cloudrunv2/job:Job"})
