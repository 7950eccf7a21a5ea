"""Cloud Scheduler: cron jobs."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _job(cloud: Cloud, _logical: str, state: State) -> State:
    return {
        "__id": f"projects/{cloud.project}/locations/{cloud.location_of(state)}/jobs/{state['name']}",
        "state": "ENABLED",
    }


OUTPUTS: dict[str, Outputs] = {"gcp:cloudscheduler/job:Job": _job}
AUTONAMED: frozenset[str] = frozenset(OUTPUTS)
