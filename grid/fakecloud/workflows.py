"""Workflows."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State


def _workflow(cloud: Cloud, logical: str, state: State) -> State:
    name = state.get("name") or f"{logical}-{cloud.digest(logical, 7)}"
    path = f"projects/{cloud.project}/locations/{cloud.region_of(state)}/workflows/{name}"
    return {"__id": path, "name": name, "state": "ACTIVE"}


OUTPUTS: dict[str, Outputs] = {"gcp:workflows/workflow:Workflow": _workflow}
AUTONAMED: frozenset[str] = frozenset()
