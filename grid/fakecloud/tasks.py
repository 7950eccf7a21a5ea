"""Cloud Tasks: queues and who may enqueue to them."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _queue(cloud: Cloud, _logical: str, state: State) -> State:
    location = cloud.location_of(state)
    return {"__id": f"projects/{cloud.project}/locations/{location}/queues/{state['name']}", "state": "RUNNING"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:cloudtasks/queue:Queue": _queue,
    "gcp:cloudtasks/queueIamMember:QueueIamMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset({"gcp:cloudtasks/queue:Queue"})
