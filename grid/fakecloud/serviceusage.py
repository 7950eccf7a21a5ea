"""Service Usage: enabled APIs and the service agents they create."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _service(cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": f"{cloud.project}/{state.get('service')}"}


def _service_identity(cloud: Cloud, _logical: str, state: State) -> State:
    # Google's service agents: service-<project number>@gcp-sa-<api>.iam.gserviceaccount.com
    # (https://cloud.google.com/iam/docs/service-agents).
    email = f"service-{cloud.project_number}@gcp-sa-{str(state['service']).split('.', 1)[0]}.iam.gserviceaccount.com"
    return {
        "__id": f"projects/{cloud.project}/services/{state['service']}",
        "email": email,
        "member": f"serviceAccount:{email}",
    }


OUTPUTS: dict[str, Outputs] = {
    "gcp:projects/service:Service": _service,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
}
AUTONAMED: frozenset[str] = frozenset()
